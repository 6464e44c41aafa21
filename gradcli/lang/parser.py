"""The parser: text to a tree of `Expr`, or a GradcliError with the span at fault.

A hand-written tokenizer (tokens.py) and Pratt parser (no `eval`, no Python `ast`), so that `^` is a
power, spans are character offsets, and deep or huge inputs fail with a clear error.

Precedence and the words it reads are in the operator table (grammar.py); the tree it builds
is tree.py's, and printing it back is printer.py's. `a if c else b` is the call
where(c, a, b), remembered as written (text "if").

PyTorch's and numpy's spellings are syntax here: `x.sum(dim=0)` is the call `sum(x,
dim=0)`, and `torch.sin(x)`, `F.relu(x)`, `np.exp(x)` call `sin`, `relu`, `exp`. A call
node keeps how its name was written (`text`), because the spelling decides a default
where PyTorch and numpy disagree (see SPELLINGS).

Long expressions are read in time linear in their length and with little Python a token:
one `findall` gives every token with the gap before it; tokens stay two parallel lists
(texts, start offsets); a chain of operators of one precedence is a loop, a lone number or
name on the right of an operator is read without a call of its own, and a node is a named
tuple made in one step. The parse records the variables and calls it meets on the root it
returns (`Root`), so that a problem needs no further walk of the tree to find them.
"""

from __future__ import annotations

from gradcli.collector import collection_paused
from gradcli.errors import GradcliError, Span
from gradcli.lang.grammar import (
    BINARY, BOOLEANS, COMPARISON, CONSTANTS, DTYPES, IF_POWER, KEYWORDS, MODULES, NOT_POWER, NOT_VARIABLES,
    PRECEDENCE, RESULT_FIELDS, SPELLINGS, TRAILERS, UNARY_POWER,
)
from gradcli.lang.programs import check_program
from gradcli.lang.tokens import Token, place, token_kind, tokenize
from gradcli.lang.tree import Expr, Recorded, Root
from gradcli.limits import LIMITS

# The parser's hot path makes a node from all seven fields at once, skipping the keyword handling of Expr().
_tuple_new = tuple.__new__


class _Parser:
    def __init__(self, source: str, max_depth: int):
        self.source = source
        self.texts, self.starts, self.lines = tokenize(source)
        self.pos = 0
        self.depth = 0
        self.max_depth = max_depth
        # A parenthesised sub-expression keeps its own span; the nodes built around it
        # reach out to its brackets, so (a - b)**2 spans the whole text.
        self.bracketed: dict[int, Span] = {}
        # What the parse meets, in the order nodes are made (each after its children: postorder),
        # so that no walk of the tree needs to find it again: every node, name values, and the first
        # call node of each spelling. A conditional makes where(c, a, b) after reading a, c, b: not
        # postorder. Every node made is one of the tree's: none is made and then let go or rebuilt.
        self.made: list[Expr] = []
        self.names: list[str] = []
        self.calls: dict[tuple[str, str], Expr] = {}
        self.in_postorder = True

    def extent(self, e: Expr) -> Span:
        return self.bracketed.get(id(e), e.span)

    def keep(self, node: Expr) -> Expr:
        """node, recorded as made (the hot paths append to self.made themselves)."""
        self.made.append(node)
        return node

    # -- token helpers -----------------------------------------------------------
    def token(self, i: int) -> Token:
        text = self.texts[i]
        start = self.starts[i]
        return Token(token_kind(text), text, (start, start + len(text)), i in self.lines)

    @property
    def tok(self) -> Token:
        return self.token(self.pos)

    def advance(self) -> Token:
        tok = self.token(self.pos)
        self.pos += 1
        return tok

    def at(self, text: str) -> bool:
        return self.texts[self.pos] == text  # (a string's text has its quotes: only an operator is "(")

    def expect(self, text: str, opener: int | None = None) -> int:
        """Past the operator text, with the end offset of it; or an error naming the opener's place."""
        if self.texts[self.pos] == text:
            self.pos += 1
            return self.starts[self.pos - 1] + len(text)
        tok = self.tok
        found = "the end of the expression" if tok.kind == "end" else repr(tok.text)
        message = f"expected {text!r} but found {found}"
        if opener is not None:
            message += f" (to close the {self.texts[opener]!r} at {place(self.source, self.starts[opener])})"
        raise self.error(message, tok.span)

    def error(self, message: str, span: Span) -> GradcliError:
        return GradcliError(message, kind="syntax", span=span, source=self.source)

    # -- grammar -----------------------------------------------------------------
    def expression(self, min_bp: int = 0, left: Expr | None = None) -> Expr:
        """The expression here whose operators bind at least min_bp; left, when given, is its first
        operand, already read. A chain of operators of one precedence is this loop, not recursion."""
        self.depth += 1
        if self.depth > self.max_depth:
            raise GradcliError(f"the expression is nested more than {self.max_depth} levels deep "
                               f"(GRADCLI_MAX_DEPTH)",
                               kind="limit", span=self.tok.span, source=self.source)
        if left is None:
            left = self.atom() or self.prefix(min_bp)
        texts, lines, bracketed, made = self.texts, self.lines, self.bracketed, self.made
        # (a local: Python compiles a method call on a name imported with `from` as an attribute
        # read, which makes a bound method on every call; BINARY.get was one per operator read)
        operator_of = BINARY.get
        nests = self.depth < self.max_depth  # whether an operand may be read at one level deeper
        compared = False  # a < b < c is refused; (a < b) == (c < d) compares two masks
        while True:
            pos = self.pos
            text = texts[pos]
            operator = operator_of(text)
            # (lines is empty unless the text has several lines: then no lookup is made)
            if operator is None or (lines and pos in lines):
                if text == "if" and IF_POWER >= min_bp and pos not in lines:
                    left = self.conditional(left)
                    continue
                break
            name, lbp, rbp = operator
            if lbp < min_bp:
                break
            if lbp <= COMPARISON:
                if lbp == COMPARISON:
                    if compared:
                        raise self.error("comparisons cannot be chained: combine masks with and, as in "
                                         "a < b and b < c", self.tok.span)
                    compared = True
                else:
                    compared = False
            self.pos = pos + 1
            if nests:
                # A lone number or name needs no call of its own, and any other operand is read by prefix
                # here, one level deeper, as expression(rbp) would (the token is then not read twice);
                # either goes on in expression(rbp) only when an operator after it binds tighter.
                right = self.atom()
                if right is None:
                    self.depth += 1
                    right = self.prefix(rbp)
                    self.depth -= 1
                after = operator_of(texts[self.pos])
                if after is not None and after[1] >= rbp and self.pos not in lines:
                    right = self.expression(rbp, right)
            else:
                right = self.expression(rbp)
            if bracketed:
                span = (bracketed.get(id(left), left.span)[0], bracketed.get(id(right), right.span)[1])
            else:  # (left[1] is left.span: a field read by its index skips the lookup of its name)
                span = (left[1][0], right[1][1])
            left = _tuple_new(Expr, ("binary", span, name, (left, right), (), "", None))
            made.append(left)
        self.depth -= 1
        return left

    def atom(self) -> Expr | None:
        """The number or variable here when nothing follows it that belongs to it (a call's brackets,
        an index, an attribute); None otherwise (then prefix reads what is here)."""
        pos = self.pos
        texts = self.texts
        text = texts[pos]
        # (the end token is neither, so a token follows the one here; a text is >= "0" and < ":" exactly
        # when its first character is a digit: two comparisons, no slice and no set)
        if "0" <= text < ":":
            if texts[pos + 1] in TRAILERS:
                return None
            self.pos = pos + 1
            start = self.starts[pos]
            value = float(text) if text.isdigit() else _number(text)  # (most numbers are plain digits)
            node = _tuple_new(Expr, ("num", (start, start + len(text)), value, (), (), text, None))
            self.made.append(node)
            return node
        if text.isidentifier() and text not in NOT_VARIABLES:
            if texts[pos + 1] in TRAILERS:
                return None
            self.pos = pos + 1
            start = self.starts[pos]
            self.names.append(text)
            node = _tuple_new(Expr, ("name", (start, start + len(text)), text, (), (), "", None))
            self.made.append(node)
            return node
        return None

    def conditional(self, chosen: Expr) -> Expr:
        """chosen if c else other: the call where(c, chosen, other), right associative as Python's."""
        self.in_postorder = False
        word = self.advance()
        condition = self.expression(PRECEDENCE["logical_or"])
        if not self.at("else"):
            found = "the end of the expression" if self.tok.kind == "end" else repr(self.tok.text)
            raise self.error(f"expected 'else' but found {found} (to finish the 'if' at "
                             f"{place(self.source, word.span[0])})", self.tok.span)
        self.advance()
        other = self.expression(IF_POWER)
        span = (self.extent(chosen)[0], self.extent(other)[1])
        return self.keep(Expr("call", span, "where", (condition, chosen, other), (), "if", word.span))

    def prefix(self, min_bp: int = 0) -> Expr:
        texts = self.texts
        pos = self.pos
        text = texts[pos]
        if text.isidentifier() and texts[pos + 1] == "(" and text not in NOT_VARIABLES and \
                not (self.lines and pos + 1 in self.lines):
            self.pos = pos + 1
            start = self.starts[pos]
            called = self.call(text, (start, start + len(text)))
            after = texts[self.pos]
            return self.postfix(called) if after == "[" or after == "." else called
        if text == "not":
            tok = self.tok
            if min_bp > NOT_POWER:
                raise self.error("put 'not ...' in brackets here, as in x * (not m)", tok.span)
            self.advance()
            operand = self.expression(NOT_POWER)
            return self.keep(Expr("unary", (tok.span[0], self.extent(operand)[1]), "not", (operand,)))
        if text == "-" or text == "+":
            start = self.starts[self.pos]
            self.pos += 1
            operand = self.expression(UNARY_POWER)
            return self.keep(Expr("unary", (start, self.extent(operand)[1]), "neg" if text == "-" else "pos",
                                  (operand,)))
        return self.postfix(self.primary())

    def primary(self) -> Expr:
        pos = self.pos
        text = self.texts[pos]
        start = self.starts[pos]
        span = (start, start + len(text))
        kind = token_kind(text)
        if kind == "number":
            self.pos += 1
            return self.keep(Expr("num", span, _number(text), text=text))
        if kind == "string":
            self.pos += 1
            return self.keep(Expr("str", span, text[1:-1], text=text))
        if kind == "name" and text in KEYWORDS:
            if text == "None":
                raise self.error("None has no value: it adds an axis in an index, as in x[None], and leaves out an "
                                 "argument of a call, as in F.linear(x, w, None)", span)
            raise self.error(f"unexpected {text!r}", span)
        if kind == "name":
            if text in MODULES and self.qualified_length():
                return self.qualified()
            self.pos += 1
            if text in BOOLEANS:
                return self.keep(Expr("num", span, BOOLEANS[text], text=text))
            self.names.append(text)  # (a name followed by a call's brackets is prefix's)
            return self.keep(Expr("name", span, text))
        if text == "(":
            self.pos += 1
            if self.at(")"):  # the empty tuple: a 0-d shape, as in reshape(x, ())
                end = self.expect(")", pos)
                return self.keep(Expr("tuple", (start, end), None, ()))
            items = self.comma_list(")")
            end = self.expect(")", pos)
            if len(items) == 1 and not self.texts[self.pos - 2] == ",":
                self.bracketed[id(items[0])] = (start, end)
                return items[0]
            return self.keep(Expr("tuple", (start, end), None, tuple(items)))
        if text == "[":
            self.pos += 1
            items = [] if self.at("]") else self.comma_list("]")
            end = self.expect("]", pos)
            if not items:
                raise self.error("an empty list has no value", (start, end))
            return self.keep(Expr("list", (start, end), None, tuple(items)))
        if kind == "end":
            if pos == 0:
                raise self.error("the expression is empty", span)
            raise self.error("the expression ends too early", span)
        raise self.error(f"unexpected {text!r}", span)

    def comma_list(self, closer: str) -> list[Expr]:
        items = [self.expression()]
        while self.at(","):
            self.pos += 1
            if self.at(closer):
                break
            items.append(self.expression())
        return items

    def qualified_length(self) -> int:
        """Tokens in a dotted name here (torch.nn.functional.relu) that calls a function or is
        a constant (np.pi); 0 when there is none (a variable F with F.T is one)."""
        texts = self.texts
        end = self.pos + 1
        while texts[end] == "." and token_kind(texts[end + 1]) == "name":
            end += 2
        last = texts[end - 1]
        if end == self.pos + 1:
            return 0
        if texts[end] == "(" or (end == self.pos + 3 and (last in CONSTANTS or last in DTYPES)):
            return end - self.pos
        return 0

    def qualified(self) -> Expr:
        parts = [self.advance() for _ in range(self.qualified_length())][::2]
        first, last = parts[0], parts[-1]
        span = (first.span[0], last.span[1])
        prefix = ".".join(p.text for p in parts[:-1])
        if prefix not in SPELLINGS:
            known = ", ".join(f"{p}." for p in SPELLINGS)
            raise self.error(f"{prefix}.{last.text} is not a function gradcli has: {prefix}. is not a prefix it "
                             f"knows ({known})", span)
        if not self.at("(") and last.text in DTYPES:  # torch.float64: the word "float64", written as it was
            return self.keep(Expr("str", span, DTYPES[last.text], text=self.source[span[0]:span[1]]))
        if not self.at("("):
            self.names.append(last.text)
            return self.keep(Expr("name", span, last.text))  # np.pi
        return self.call(last.text, span, text=f"{prefix}.{last.text}")

    def call(self, name: str, name_span: Span, *, receiver: Expr | None = None, text: str = "") -> Expr:
        """The call whose name (at name_span) was just read: its arguments in brackets."""
        opener = self.pos
        self.pos += 1
        texts = self.texts
        args: list[Expr] = []
        keywords: list[tuple[str, Expr]] = []
        while texts[self.pos] != ")":
            key = None
            pos = self.pos
            if texts[pos].isidentifier() and texts[pos + 1] == "=":
                key = self.token(pos)
                self.pos = pos = pos + 2
                if any(k == key.text for k, _ in keywords):
                    raise self.error(f"keyword {key.text!r} given twice", key.span)
            elif keywords:
                raise self.error("a positional argument cannot follow a keyword argument", self.tok.span)
            # None standing alone (F.linear(x, w, None), eps=None) leaves the argument out, as PyTorch's
            # None does where it is the default.
            if texts[pos] == "None" and texts[pos + 1] in (",", ")"):
                self.pos = pos + 1
                value = self.keep(Expr("none", (self.starts[pos], self.starts[pos] + 4)))
            else:
                value = self.expression()
            if key is None:
                args.append(value)
            else:
                keywords.append((key.text, value))
            if texts[self.pos] != ",":
                break
            self.pos += 1
        pos = self.pos
        if texts[pos] != ")":  # (the bracket is read here, and expect called only for its error: a call saved)
            self.expect(")", opener)
        self.pos = pos + 1
        end = self.starts[pos] + 1
        if receiver is not None:
            text = f".{name}"
            node = Expr("call", (self.extent(receiver)[0], end), name, (receiver, *args), tuple(keywords),
                        text, name_span)
        else:
            node = _tuple_new(Expr, ("call", (name_span[0], end), name, tuple(args), tuple(keywords), text,
                                     name_span))
        self.made.append(node)
        self.calls.setdefault((name, text), node)
        return node

    def postfix(self, expr: Expr) -> Expr:
        texts = self.texts
        while True:
            pos = self.pos
            text = texts[pos]
            if (text != "[" and text != ".") or pos in self.lines:
                return expr
            if text == "[":
                self.pos += 1
                items = [self.index_item()]
                while self.at(","):
                    self.pos += 1
                    items.append(self.index_item())
                end = self.expect("]", pos)
                expr = self.keep(Expr("index", (self.extent(expr)[0], end), None, (expr, *items)))
            else:
                self.pos += 1
                attr = self.tok
                if attr.kind != "name":
                    raise self.error("expected a name after '.'", attr.span)
                self.pos += 1
                if self.at("("):
                    expr = self.call(attr.text, attr.span, receiver=expr)
                elif attr.text in ("T", "mT", "shape", "ndim") or attr.text in RESULT_FIELDS:
                    expr = self.keep(Expr("attr", (self.extent(expr)[0], attr.span[1]), attr.text, (expr,)))
                else:
                    raise self.error(f"unknown attribute {attr.text!r}: only .T (transpose), .mT (the last two "
                                     f"axes swapped), .shape, .ndim, and the parts of a pair, as .values and "
                                     f".indices of torch.max(x, dim), are allowed; a method needs brackets, as in "
                                     f".sum()", attr.span)

    # -- programs ----------------------------------------------------------------
    def program(self) -> list[Expr]:
        """Statements, separated by ';' or by starting a new line outside brackets."""
        statements: list[Expr] = []
        while True:
            while self.at(";"):
                self.pos += 1
            if self.texts[self.pos] == "":
                return statements
            statements.append(self.statement())
            if not (self.at(";") or self.pos in self.lines or self.texts[self.pos] == ""):
                raise self.leftover()

    def statement(self) -> Expr:
        """NAME = EXPR (a step), NAME(A, B) = EXPR (a function) or an expression."""
        tok, after = self.tok, self.token(self.pos + 1)
        if tok.kind != "name" or tok.text in KEYWORDS or after.kind != "op":
            return self.expression()
        if after.text == "=":
            self.pos += 2
            value = self.expression()
            return self.keep(Expr("let", (tok.span[0], self.extent(value)[1]), tok.text, (value,),
                                  name_span=tok.span))
        if after.text == "(" and self.definition_ahead():
            return self.definition()
        return self.expression()

    def definition_ahead(self) -> bool:
        """Whether NAME ( NAME, ... ) = follows: a function definition, not a call."""
        texts = self.texts
        i = self.pos + 2
        while token_kind(texts[i]) == "name" and texts[i + 1] in (",", ")"):
            i += 2 if texts[i + 1] == "," else 1
        return texts[i] == ")" and texts[i + 1] == "="

    def definition(self) -> Expr:
        name = self.advance()
        self.pos += 1
        params: list[Token] = []
        while not self.at(")"):
            params.append(self.advance())
            if self.at(","):
                self.pos += 1
        self.pos += 2  # ) =
        names = [p.text for p in params]
        for i, p in enumerate(params):
            if p.text in names[:i]:
                raise self.error(f"{name.text}() names its parameter {p.text!r} twice", p.span)
        body = self.expression()
        return self.keep(Expr("def", (name.span[0], self.extent(body)[1]), (name.text, tuple(names), body),
                              name_span=name.span))

    def leftover(self) -> GradcliError:
        tok = self.tok
        message = f"unexpected {tok.text!r}"
        if tok.text == ")" or tok.text == "]":
            message = f"unmatched {tok.text!r}"
        elif tok.text == "=":
            message += ": use == to compare"
        elif self.pos and (tok.kind in ("name", "number") or tok.text == "(") and tok.text not in NOT_VARIABLES \
                and not tok.text.startswith("_"):  # (1__0 is a misspelt number, x else y a stray word)
            before = self.texts[self.pos - 1]
            if token_kind(before) == "number":
                message += f": a product needs *, as in {before}*{tok.text if tok.text != '(' else '(...)'}"
            elif token_kind(before) == "name" and tok.kind == "name":
                message += f" after {before!r}: write {before}({tok.text}) for a call, {before}*{tok.text} for a product"
        return self.error(message, tok.span)

    def index_item(self) -> Expr:
        start_tok = self.tok
        ends = start_tok.kind != "end" and self.texts[self.pos + 1] in (",", "]")
        if self.at("...") or (start_tok.text == "None" and ends):
            self.pos += 1  # x[..., 0] and x[None]: numpy's ellipsis and new axis
            return self.keep(Expr("ellipsis" if start_tok.text == "..." else "none", start_tok.span))
        parts: list[Expr | None] = [None, None, None]
        if not self.at(":"):
            parts[0] = self.expression()
            if not self.at(":"):
                return parts[0]
        for slot in (1, 2):
            if not self.at(":"):
                break
            self.pos += 1
            if not (self.at(":") or self.at(",") or self.at("]")):
                parts[slot] = self.expression()
        end = self.token(self.pos - 1).span[1]
        return self.keep(Expr("slice", (start_tok.span[0], end), None, tuple(parts)))


def _number(text: str) -> float:
    """A literal's float64 value; too large a one is inf, as 1e999 is (0x with 300 digits too)."""
    if text[1:2] not in ("x", "X"):
        return float(text)
    try:
        return float(int(text, 16))
    except OverflowError:
        return float("inf")


def parse(source: str) -> Expr:
    """The expression tree of source, or a GradcliError with the span at fault.

    >>> from gradcli.lang.printer import sexpr
    >>> sexpr(parse("-x**2"))
    '(neg (pow x 2))'
    """
    if len(source) > LIMITS.max_length:
        raise GradcliError(f"the expression is {len(source):,} characters long; the limit is "
                           f"{LIMITS.max_length:,} (GRADCLI_MAX_LENGTH)", kind="limit")
    with collection_paused():
        return _parse(source)


def _parse(source: str) -> Expr:
    parser = _Parser(source, LIMITS.max_depth)
    # Every node of the tree has a token of its own, so this bounds the tree before it is built.
    parts = len(parser.texts) - 1
    if parts > LIMITS.max_nodes:
        raise GradcliError(f"the expression has {parts:,} parts; the limit is {LIMITS.max_nodes:,} "
                           f"(GRADCLI_MAX_NODES)", kind="limit")
    statements = parser.program()
    if not statements:
        raise parser.error("the expression is empty", parser.tok.span)
    if len(statements) == 1 and statements[0].kind not in ("let", "def"):
        root = _tuple_new(Root, statements[0])
        if parser.in_postorder:
            # The root is statements[0] made again, and postorder puts it last: kept in its own record, it
            # would be a cycle, which only the cyclic collector frees.
            parser.made.pop()
            root.recorded = Recorded([n for n in dict.fromkeys(parser.names) if n not in CONSTANTS],
                                     list(parser.calls.values()), parser.made)
        return root
    check_program(statements, source)
    return Expr("program", (0, len(source)), None, tuple(statements))
