import math

import pytest

from xpl.languages.types import (
    BOOL,
    FLOAT,
    INT,
    NONE,
    STR,
    DictType,
    ListType,
    OptionalType,
    Signature,
    TestCase,
    TupleType,
    TypeParseError,
    check_value,
    parse_type,
    type_of_value,
    values_equal,
)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("int", INT),
        ("List[int]", ListType(INT)),
        ("list[str]", ListType(STR)),
        ("typing.List[float]", ListType(FLOAT)),
        ("Tuple[int, str]", TupleType((INT, STR))),
        ("Dict[str, List[int]]", DictType(STR, ListType(INT))),
        ("Optional[int]", OptionalType(INT)),
        ("Union[int, None]", OptionalType(INT)),
        ("str | None", OptionalType(STR)),
        ("None", NONE),
        ("'List[bool]'", ListType(BOOL)),
    ],
)
def test_parse_type(text, expected):
    assert parse_type(text) == expected


@pytest.mark.parametrize(
    "text, message",
    [
        ("Any", "unsupported type 'Any'"),
        ("Union[int, str]", "general unions"),
        ("Tuple[int, ...]", "variable-length"),
        ("List[int, str]", "takes 1 type argument"),
        ("Callable[[int], int]", "unsupported generic"),
        ("List[", "not a Python annotation"),
    ],
)
def test_parse_type_errors_name_the_problem(text, message):
    with pytest.raises(TypeParseError, match=message.replace("[", r"\[").replace(".", r"\.")):
        parse_type(text)


def test_signature_from_python_source():
    sig = Signature.from_python("def f(xs: List[int], k: int = 2) -> Optional[str]:\n    '''doc'''\n")
    assert sig.name == "f"
    assert [p.name for p in sig.params] == ["xs", "k"]
    assert sig.returns == OptionalType(STR)
    with pytest.raises(TypeParseError, match="parameter 'x' of g has no type annotation"):
        Signature.from_python("def g(x) -> int:\n    pass\n")


def test_check_value_names_the_path():
    with pytest.raises(TypeError, match=r"value\[1\]\[0\]: expected int"):
        check_value([[1], ["a"]], ListType(ListType(INT)))
    with pytest.raises(TypeError, match="does not fit in 64 bits"):
        check_value(2**64, INT)
    check_value(None, OptionalType(INT))
    with pytest.raises(TypeError, match="expected bool"):
        check_value(1, BOOL)


def test_type_of_value():
    assert type_of_value([1, 2.5]) == ListType(FLOAT)
    assert type_of_value({"a": (1, "x")}) == DictType(STR, TupleType((INT, STR)))
    assert type_of_value([None, 3]) == ListType(OptionalType(INT))


def test_values_equal_mirrors_the_harness_rules():
    assert values_equal(1.0, 1.0 + 1e-9)
    assert not values_equal(1.0, 1.1)
    assert values_equal(math.nan, math.nan)
    assert not values_equal(True, 1)
    assert values_equal((1, [2.0]), [1, [2.0000000001]])
    assert not values_equal({"a": 1}, {"a": 1, "b": 2})
    assert values_equal(0.0, 1e-10)


def test_testcase_check():
    sig = Signature.parse("f", [("a", "int")], "List[int]")
    TestCase((1,), [1]).check(sig)
    with pytest.raises(TypeError, match="1 argument"):
        TestCase((1, 2), [1]).check(sig)
    with pytest.raises(TypeError, match="expected result"):
        TestCase((1,), ["x"]).check(sig)
