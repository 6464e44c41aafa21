"""The language's vocabulary, read by the parser and the printers alike: the operator table
(each operator's spelling, operation name and binding powers, so precedence and associativity),
the binding powers of the prefix words, the keywords, the constants, and the module prefixes
(torch., F., np.) with the conventions each follows.

Precedence, lowest first, as Python's: `a if c else b`; or; and; not; comparisons;
+ -; * / // % @; unary - +; ** and ^ (right associative; a unary operator binds looser,
so -x**2 is -(x**2)); then calls, indexing, `.T`, `.shape` and method calls.
"""

BINARY = {  # token -> (operation name, left binding power, right binding power)
    "<": ("lt", 10, 11), "<=": ("le", 10, 11), ">": ("gt", 10, 11), ">=": ("ge", 10, 11),
    "==": ("eq", 10, 11), "!=": ("ne", 10, 11),
    "+": ("add", 20, 21), "-": ("sub", 20, 21),
    "*": ("mul", 30, 31), "/": ("div", 30, 31), "@": ("matmul", 30, 31),
    "//": ("floor_divide", 30, 31), "%": ("remainder", 30, 31),
    "**": ("pow", 50, 49), "^": ("pow", 50, 49),
    "or": ("logical_or", 4, 5), "and": ("logical_and", 6, 7),  # words, not symbols: masks, as Python's
}
SYMBOLS = {name: token for token, (name, _, _) in BINARY.items() if token != "^"}
PRECEDENCE = {name: left for _, (name, left, _) in BINARY.items()}
COMPARISON = PRECEDENCE["lt"]
UNARY_POWER = 40
NOT_POWER = 8  # not binds looser than a comparison and tighter than and: not a < b and c
IF_POWER = 2  # a if c else b binds loosest of all
# Words the grammar reads; none of them is a variable.
KEYWORDS = {"if", "else", "and", "or", "not", "None"}
TRAILERS = {"(", "[", "."}  # what may follow a name or number and belong to it: a call, an index, an attribute
# The fields of the pairs PyTorch's functions give that an expression may take apart by name (x.max(0).indices,
# torch.aminmax(x).max, torch.triangular_solve(b, A).solution): an attribute, as .T and .shape are
RESULT_FIELDS = ("values", "indices", "min", "max", "solution", "cloned_coefficient")
LEAVES = {"none": "None", "ellipsis": "..."}  # the index items that are no expression
# nan and inf as numpy and PyTorch spell them (np.nan, torch.inf); -inf is the minus of inf.
CONSTANTS = {"pi": 3.141592653589793, "e": 2.718281828459045, "nan": float("nan"), "inf": float("inf")}
BOOLEANS = {"True": 1.0, "False": 0.0}  # for keywords such as keepdim=True
# torch.float64, np.float32, ...: a dtype (dtype=, x.to(...)), read as the word of its canonical name;
# those other than float32 and float64 are read so that the message can say gradcli computes in those two.
DTYPES = {"float32": "float32", "float": "float32", "float64": "float64", "double": "float64",
          "float16": "float16", "half": "float16", "bfloat16": "bfloat16", "int64": "int64", "long": "int64",
          "int32": "int32", "int": "int32", "int16": "int16", "short": "int16", "int8": "int8",
          "uint8": "uint8", "bool": "bool", "complex64": "complex64", "complex128": "complex128"}
NOT_VARIABLES = KEYWORDS | set(BOOLEANS)
# The module prefixes that name gradcli's functions, and whose conventions each follows.
SPELLINGS = {"torch": "torch", "torch.nn.functional": "torch", "nn.functional": "torch", "F": "torch",
             "torch.linalg": "torch", "torch.special": "torch", "np": "numpy", "numpy": "numpy",
             "np.linalg": "numpy", "numpy.linalg": "numpy"}
MODULES = {prefix.split(".")[0] for prefix in SPELLINGS}

