import math

import pytest

from xpl.languages.types import (
    ANY,
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
    UnionType,
    check_value,
    dynamic_type,
    parse_type,
    type_of_value,
    union_member,
    values_equal,
)
from xpl.languages.values import Expected, decode, decode_value, encode


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
        ("Any", ANY),
        ("List[Any]", ListType(ANY)),
        ("Union[str, int]", UnionType((STR, INT))),
        ("int | List[str]", UnionType((INT, ListType(STR)))),
        ("Union[int, float, str, None]", OptionalType(UnionType((INT, FLOAT, STR)))),
        ("Optional[Union[int, float, str]]", OptionalType(UnionType((INT, FLOAT, STR)))),
        ("Union[int, Union[str, None]]", OptionalType(UnionType((INT, STR)))),
    ],
)
def test_parse_type(text, expected):
    assert parse_type(text) == expected


@pytest.mark.parametrize(
    "text, message",
    [
        ("Object", "unsupported type 'Object'"),
        ("Union[List[int], List[str]]", "two members of one kind"),
        ("Union[Any, int]", "Any in a union"),
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
    with pytest.raises(TypeParseError, match="values of different types: int, str"):
        type_of_value([1, "a"])  # inference never makes a union


def test_union_members_are_told_apart_by_kind():
    u = parse_type("Union[str, int]")
    assert union_member(u, "a") == STR and union_member(u, 3) == INT and union_member(u, True) is None
    assert annotation_round_trips(u) and annotation_round_trips(parse_type("Optional[Union[List[str], int]]"))
    assert union_member(parse_type("Union[float, str]"), 3) == FLOAT  # an int is a float where no int is
    check_value("0b11", u)
    check_value(-1, u)
    with pytest.raises(TypeError, match=r"expected Union\[str, int\]"):
        check_value(2.5, u)
    with pytest.raises(TypeError, match=r"value\[1\]\[0\]: expected str"):
        check_value([["a"], [1]], parse_type("List[Union[List[str], int]]"))


def annotation_round_trips(t) -> bool:
    return parse_type(t.annotation()) == t


def test_union_values_encode_as_their_member_and_read_back_by_json_kind():
    t = parse_type("Optional[Union[int, float, str]]")
    for v in [2, 2.5, "2,3", None, -7]:
        assert decode(encode(v, t), t) == v and type(decode(encode(v, t), t)) is type(v)
        assert values_equal(decode_value(encode(v, t), t), v)
    assert decode_value(3.0, t) == 3.0 and decode_value("nan", parse_type("Union[float, int]")) != 0
    with pytest.raises(TypeError):
        decode_value(True, t)  # a bool is none of the members
    with pytest.raises(TypeError):
        decode_value({"invalid": "Integer"}, t)
    with pytest.raises(TypeError, match="would read back as a str"):
        encode(math.nan, parse_type("Union[float, str]"))
    lists = parse_type("Union[List[str], int]")
    assert decode_value(["a", "b"], lists) == ["a", "b"] and decode_value(3, lists) == 3
    with pytest.raises(TypeError):
        decode_value([1], lists)
    exp = Expected.from_json({"returns": "Union[str, int]", "values": ["0b11", -1]})
    assert exp.type == UnionType((STR, INT))


def test_any_values_carry_their_own_type():
    assert dynamic_type(4) == INT and dynamic_type([]) == ListType(INT) and dynamic_type({}) == DictType(INT, INT)
    assert dynamic_type([1, "a"]) == ListType(ANY) and dynamic_type((1, 2.0)) == TupleType((INT, FLOAT))
    t = ListType(ANY)
    value = [4, {}, [], 23.2, 9, "adasd", [1, "a"]]
    check_value(value, t)
    obj = encode(value, t)
    assert obj[0] == {"type": "int", "value": 4} and obj[1] == {"type": "dict[int, int]", "value": []}
    assert decode(obj, t) == value and type(decode(obj, t)[3]) is float
    with pytest.raises(TypeError):
        decode([{"type": "int", "value": 4.5}], t)
    with pytest.raises(TypeError, match="does not fit in 64 bits"):
        check_value([2**70], t)


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
