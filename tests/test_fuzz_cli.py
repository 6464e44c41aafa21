"""The whole CLI against arbitrary and hostile text: a clean result or a clean error, fast.

Every run must end with status 0, 1 or 2, say something when it fails, finish within a
budget of CPU time, and never print a traceback or a raw numpy warning. run_cli re-raises
any exception that escapes the app, so an escaped non-GradcliError fails the test too.
Budgets are multiples of a baseline measured in the same run (conftest.cpu_baseline).
"""

from __future__ import annotations

import warnings

import pytest
from conftest import BASELINE_TERMS, assert_share, cpu_baseline, cpu_seconds, measure_cpu_baseline, run_cli, sum_of_terms
from hypothesis import given
from hypothesis import strategies as st

from gradcli.ops import FUNCTIONS

# One case's CPU budget, in baselines (a 10,000-term gradient through the CLI): the
# costliest case, a 5,000-term product, takes under one baseline; ten leave room for a
# slow or busy machine, while a hang or an exponential blow-up still runs far past it.
CASE_BUDGET = 10
# A sum of 10 times the baseline's terms may cost at most this many baselines. Linear
# growth gives 10; today it is 13 to 14, steady under load (the allocator and the garbage
# collector grow with the graph). 30 fails once a super-linear cost adds more than the
# whole of today's cost at 100,000 terms; a step quadratic in the graph's size gives ~100.
TEN_TIMES_THE_TERMS = 30

NASTY_EXPRESSIONS = [
    "", " ", "\t\n", "\x00", "x\x00", "\x1b[31mx\x1b[0m", "x\x7f", "\r", "x − 1", "2 × x", "x ÷ 2", "x·x",
    "x²", "∑x", "ｘ", "x\u200b", "\u202ex", "😀", "\ud800", "((x", "x))", "[x, 1", "x]", "(]", "x[0",
    "__import__('os').system('echo hi')", "__import__", "x.__class__",
    "x.__class__.__bases__", "().__class__", "x.real", "x.T.T.shape", "lambda: 1", "lambda x: x",
    "exec('1')", "eval", "open('/etc/passwd')", "10**10**10", "9**9**9", "-(10**10**10)", "1e999999",
    "zeros(100000000000)", "ones(100000, 100000)", "eye(10**10)", "zeros(-1)", "zeros(1.5)", "zeros()",
    "zeros(1e300)", "outer(ones(1000000), ones(1000000))", "x[99]", "x[::0]", "x[1.5]", "x[nan]",
    "sum(x, axis=7)", "sum(x, axis=1.5)", "sum(x, axes=0)", "exp(1000)*x", "log(0*x)", "0/0*x", "1/(0*x)",
    "inv(zeros(2, 2)) @ x[:2]", "x = 1", "x == x == x", "x; 1", "x,", "'x'", '"x"', "#", "@", "x @", "x..T",
    "x.", "sum(", "sum)", "f(x)", "sin(x, x)", "pow(x)", "where(x)", "x[", "[]", "()", "x[]", "1e", "0x10", "1_0",
]
HUGE_EXPRESSIONS = [
    "(" * 10_000 + "x" + ")" * 10_000, "-" * 10_000 + "x", "[" * 10_000 + "x" + "]" * 10_000,
    "sin(" * 10_000 + "x" + ")" * 10_000, "+".join(["x[0]"] * 5_000), "*".join(["x"] * 5_000),
    "x" * 2_000_000,
]
NASTY_VALUES = [
    "", " ", "nan", "inf", "-inf", "1e309", "nan,inf", "[[1,2],[3]]", "[" * 10_000 + "1" + "]" * 10_000,
    "[" * 100, "]", "zeros(1e12)", "zeros(100000000000)", "randn(100000,100000)", "@/nonexistent/file.csv",
    "@/", "@/etc/passwd", "@", "1,,2", "1;;2", ";", ",", "\x00", "１,２", "−1", "1e", "True", "null",
    '{"a": 1}', "[true]", '["1"]', "[1e999]", "arange(0, 1e300, 1e-300)", "linspace(0, 1, 1e12)",
    "full(2, nan)", "eye(3,4,5)", "zeros(-2)", "rand()", "unknown(3)", "__import__('os')", "1" * 100_000,
]

NASTY_OPTIONS = [
    ["--chunk", "0"], ["--chunk", "-1"], ["--chunk", "1000000000000"], ["--chunk", "x"], ["--precision", "100"],
    ["--method", "foo"], ["--wrt", ""], ["--wrt", "x,x"], ["--wrt", ",,,"], ["--wrt", "y"], ["--x", "3"],
    ["-v", "x=1"], ["-v", "=1"], ["-v", "1x=2"], ["-v", "x"], ["-o", "/nonexistent/a.json"], ["-o", "a.txt"],
    ["-o", "/"], ["--seed", "-1"], ["--seed", "99999999999999999999999"], ["-"], ["--="], ["---x", "1"],
    ["--grad-output", "1,2"], ["--grad-output", "nan,inf"], ["--grad-output", "zeros(10000000000)"],
]


def check(*args: str, input: str | None = None) -> bool:
    """Run a case and check it ended cleanly and in time; whether it ran to a result."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # numpy's warnings escape as exceptions
        run, elapsed = cpu_seconds(*args, input=input)
    assert run.exit_code in (0, 1, 2), (args[:2], run.exit_code, run.stderr[-500:])
    assert "Traceback" not in run.stderr and "Traceback" not in run.stdout
    assert "Warning:" not in run.stderr, run.stderr[-500:]  # numpy's RuntimeWarning: ..., never ours
    if run.exit_code != 0:  # gradcli's "error: ..." or, for a malformed option, click's usage error
        assert run.stderr.startswith("error: ") or "\nError: " in run.stderr, run.stderr[-500:]
        assert len(run.stderr.strip()) > len("error: ")
    budget = CASE_BUDGET * cpu_baseline()
    assert elapsed < budget, f"{args[1][:60]!r} took {elapsed:.1f} s of CPU, over the budget of {budget:.1f} s"
    return run.exit_code == 0


@pytest.mark.parametrize("command", ["grad", "jacobian", "hessian"])
@pytest.mark.parametrize("expr", NASTY_EXPRESSIONS, ids=range(len(NASTY_EXPRESSIONS)))
def test_nasty_expression(command, expr):
    check(command, expr, "--x", "1,2,3", "--format", "json")


@pytest.mark.parametrize("expr", HUGE_EXPRESSIONS, ids=range(len(HUGE_EXPRESSIONS)))
def test_huge_expression(expr):
    check("grad", expr, "--x", "1.0001", "--format", "json")


@pytest.mark.parametrize("command,expr", [("grad", "sum(x**3)"), ("jacobian", "sin(x) * 2"), ("hessian", "sum(x**3)")])
@pytest.mark.parametrize("option", NASTY_OPTIONS, ids=range(len(NASTY_OPTIONS)))
def test_nasty_option(command, expr, option):
    check(command, expr, "--x", "1,2", *option)


@pytest.mark.parametrize("value", NASTY_VALUES, ids=range(len(NASTY_VALUES)))
def test_nasty_value(value):
    check("jacobian", "sin(x) * 2", f"--x={value}", "--format", "json")


EDGE_VALUES = ["[]", "zeros(0, 0)", "nan", "inf,-inf,0", "nan,0;0,1", "0,0;0,0", "1e308,-1e308;5e-324,0"]
# What the functions that take a size, an axis or a number beside x are given (as torch asks for it).
EDGE_ARGUMENTS = {"array_reshape": "-1", "array_permute": "1, 0", "array_expand": "2, 2", "tile": "2, 1",
                  "movedim": "0, -1", "swapaxes": "0, -1", "unsqueeze": "0", "roll": "1", "full_like": "0.5",
                  "mvlgamma": "1", "cummax": "0", "cummin": "0", "logcumsumexp": "0", "kthvalue": "1", "topk": "1",
                  "pad": "(1, 1)"}


def every_call() -> list[str]:
    """Each function of the language applied to x (as often as it takes arguments), summed."""
    calls = set()
    for name, op in FUNCTIONS.items():
        if op.constructor:
            continue
        arity = op.arity or 2
        arrays = ["[x, x]"] if op.sequence else ["x"] * arity
        given = [EDGE_ARGUMENTS[op.name]] if op.name in EDGE_ARGUMENTS else []
        # A function that takes a string first (einsum's subscripts) gets one that fits any shape.
        text = ["'...,...->...'"] if op.keywords and op.kinds.get(op.keywords[0]) == "text" else []
        calls.add(WRITTEN_CALLS.get(name, f"sum({name}({', '.join(text + arrays + given)}))"))
    return sorted(calls)


# Calls written out: a target of class indices takes the class 0 for each row of x, not x itself;
# masked_fill's value is one entry; gather's and take_along_dim's index, the entry 0.
WRITTEN_CALLS = {"nll_loss": "sum(nll_loss(x, zeros_like(x[..., 0])))", "masked_fill": "sum(masked_fill(x, x, 0.5))",
                 # convolutions and pools of x read as (channels, length) or one (channels, height, width)
                 "conv1d": "sum(conv1d(x, x[None]))", "conv2d": "sum(conv2d(x[None], x[None, None]))",
                 "conv3d": "sum(conv3d(x[None, None], x[None, None, None]))",
                 "conv_transpose1d": "sum(conv_transpose1d(x, x[:, None]))",
                 "conv_transpose2d": "sum(conv_transpose2d(x[None], x[None, None]))",
                 "conv_transpose3d": "sum(conv_transpose3d(x[None, None], x[None, None, None]))",
                 "unfold": "sum(unfold(x[None, None], 1))", "fold": "sum(fold(x[None], (1, 2), 1))",
                 **{f"{kind}pool{n}d": f"sum({kind}pool{n}d({'x' if n == 1 else 'x[None]'}{', 2' * (kind == 'lp_')}, 1))"
                    for kind in ("avg_", "max_", "lp_", "adaptive_avg_", "adaptive_max_") for n in (1, 2)},
                 # a piece of the tuple a call gives
                 "chunk": "sum(torch.chunk(x, 2)[0])", "split": "sum(torch.split(x, 1)[-1])",
                 "tensor_split": "sum(torch.tensor_split(x, 2)[1])", "unbind": "sum(torch.unbind(x)[0])",
                 "gather": "sum(gather(x, -1, zeros_like(x)))", "take_along_dim": "sum(take_along_dim(x, zeros_like(x)))",
                 # a row of x for addmv's vector, a batch of one matrix for the batched products
                 "addmv": "sum(addmv(x[0], x, x[0]))", "baddbmm": "sum(baddbmm(x, x[None], x[None]))",
                 "addbmm": "sum(addbmm(x, x[None], x[None]))",
                 # a target of class indices (one per row, or shaped like x), or of +1 per row of two vectors
                 "multi_margin_loss": "sum(multi_margin_loss(x, zeros_like(x[..., 0])))",
                 "multilabel_margin_loss": "sum(multilabel_margin_loss(x, zeros_like(x)))",
                 "cosine_embedding_loss": "sum(cosine_embedding_loss(x, x, ones_like(x[..., 0])))",
                 # diff's arrays to join come by name, after its order and dim
                 "diff": "sum(diff(x))",
                 # the norms' shapes and parameters, dropout in eval mode (training mode is refused)
                 "layer_norm": "sum(layer_norm(x, x.shape[-1:], x[0], x[0]))",
                 "rms_norm": "sum(rms_norm(x, x.shape[-1:], x[0]))",
                 "batch_norm": "sum(batch_norm(x, x[0], x[0] ** 2, x[0], x[0]))",
                 "instance_norm": "sum(instance_norm(x[None], weight=x[0], bias=x[0]))",
                 "group_norm": "sum(group_norm(x, 1, x[0], x[0]))",
                 "local_response_norm": "sum(local_response_norm(x[None], 2))",
                 "prelu": "sum(prelu(x, x.flatten()[:1]))", "threshold": "sum(threshold(x, 0.5, 2.0))",
                 # resampling and rearranging a batch of one (N, C, L) or (C, H, W); bilinear's weight (1, n, n)
                 "interpolate": "sum(interpolate(x[None], scale_factor=2))",
                 "upsample": "sum(upsample(x[None], size=3, mode='linear'))",
                 "pixel_shuffle": "sum(pixel_shuffle(x[None], 1))", "pixel_unshuffle": "sum(pixel_unshuffle(x[None], 1))",
                 "channel_shuffle": "sum(channel_shuffle(x[None], 1))", "unflatten": "sum(unflatten(x, 0, (1, -1)))",
                 "bilinear": "sum(bilinear(x, x, x[None]))",
                 "solve_triangular": "sum(solve_triangular(x, x, upper=True))",
                 # q in [0, 1]: a number
                 "quantile": "sum(quantile(x, 0.25))", "nanquantile": "sum(nanquantile(x, 0.75))",
                 "cov": "sum(cov(x))",  # (its weights: whole numbers, one per observation)
                 # indices of class 0 (whole numbers); the rows of x at them
                 "one_hot": "sum(one_hot(zeros_like(x), 2))", "embedding": "sum(embedding(zeros_like(x[0]), x))",
                 # an index of entry 0 along the last dim; narrow's first entry there, each entry twice
                 "index_select": "sum(index_select(x, -1, zeros_like(x).flatten()[:1]))",
                 "scatter": "sum(scatter(x, -1, zeros_like(x), x))",
                 "scatter_add": "sum(scatter_add(x, -1, zeros_like(x), x))",
                 "index_add": "sum(index_add(x, -1, zeros_like(x).flatten()[:1], x[..., :1]))",
                 "index_fill": "sum(index_fill(x, -1, zeros_like(x).flatten()[:1], 0.5))",
                 "narrow": "sum(narrow(x, -1, 0, 1))", "repeat_interleave": "sum(repeat_interleave(x, 2))",
                 **{name: f"sum({name}(x, training=False))" for name in ("dropout", "dropout1d", "dropout2d",
                                                                         "dropout3d")}}


@pytest.mark.parametrize("expr", every_call())
def test_every_function_at_edge_values(expr):
    """Empty, non-finite, singular and extreme values through every function; the Hessian
    runs the forward pass, a differentiable backward pass and a second one.

    Most must give a result (93% of them do): inv, the strictest, refuses empty,
    non-finite, singular and non-square values and still computes 2 of the 7."""
    ran = [check("hessian", expr, f"--x={value}", "--format", "json") for value in EDGE_VALUES]
    assert_share(ran, 2 / len(EDGE_VALUES), expr)


def test_huge_sum_gives_the_right_gradient():
    baseline = measure_cpu_baseline()  # now, under the same load as the sum it scales
    run, elapsed = cpu_seconds("grad", sum_of_terms(10 * BASELINE_TERMS), "--x", "1,2", "--format", "json")
    assert elapsed < TEN_TIMES_THE_TERMS * baseline, f"{elapsed:.2f} s of CPU, the baseline {baseline:.2f} s"
    assert run.exit_code == 0, run.stderr
    assert run.json()["gradients"]["x"] == [100_000.0, 100_000.0]


def test_deep_nesting_is_refused_with_the_limit():
    run = run_cli("grad", "(" * 10_000 + "x" + ")" * 10_000, "--x", "1")
    assert run.exit_code == 2
    assert "nested more than" in run.stderr and "GRADCLI_MAX_DEPTH" in run.stderr


@pytest.mark.parametrize("expr,says", [("__import__('os')", "unknown function '__import__'"), ("x.__class__", "only .T"),
                                       ("lambda: 1", "unexpected ':'"), ("open(x)", "unknown function")])
def test_code_is_never_run(expr, says):
    run = run_cli("grad", expr, "--x", "1")
    assert run.exit_code == 2 and says in run.stderr, run.stderr


printable = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)
language = st.lists(st.sampled_from(list("xy0129.e+-*/^@()[],:=<>!T _") + ["sum(", "exp(", "**", "max(", "[0]"]),
                    max_size=30).map("".join)


@given(expr=st.one_of(printable, language), command=st.sampled_from(["grad", "jacobian", "hessian"]))
def test_arbitrary_expression(expr, command):
    check(command, expr, "--x", "1,2", "--y", "0.5", "--format", "json")


@given(value=st.one_of(printable, st.text(st.sampled_from(list("0123456789.,;-+e[] ")), max_size=30)))
def test_arbitrary_value(value):
    check("grad", "sum(x * x)", f"--x={value}", "--format", "json")


@given(data=printable)
def test_arbitrary_standard_input(data):
    check("grad", "sum(x)", "--x", "@-", "--format", "json", input=data)
