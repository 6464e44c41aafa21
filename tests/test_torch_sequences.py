"""gradcli run: torch.cat, torch.stack and the other functions of a list of tensors take the list, as torch's.
Reference: torch 2.13 printed the same lines for these scripts."""

from __future__ import annotations


def test_cat_and_stack_take_a_list_of_tensors_under_run(tmp_path, cli):
    script = tmp_path / "joined.py"
    script.write_text(
        "import torch\n"
        "x = torch.tensor([1., 2.], requires_grad=True)\n"
        "y = torch.cat([x, x * 2]).sum() + torch.stack((x, x), 1)[0, 1] + torch.cat((x, x), dim=0)[3]\n"
        "y = y + torch.stack([x, x * 3]).sum() + torch.stack([x[0], x[1]])[1]\n"
        "y.backward()\n"
        "print(y.item(), x.grad.tolist(), torch.stack([x, x]).grad_fn.name(), torch.cat([x, x]).grad_fn.name())\n")
    run = cli("run", str(script))
    assert run.exit_code == 0, run.stderr
    # torch 2.13: 26.0 [8.0, 9.0] StackBackward0 CatBackward0
    assert run.stdout.split() == ["26.0", "[8.0,", "9.0]", "StackBackward0", "CatBackward0"]
