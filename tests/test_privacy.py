"""Names on the public board: masking, clashes inside a branch, and masking switched off (pure functions)."""
from __future__ import annotations

import pytest

from qscore.privacy import booklet_suffix, clashing, labels, mask_name


@pytest.mark.parametrize(("name", "masked"), [
    ("张三", "张*"),
    ("王秀英", "王*英"),
    ("欧阳明华", "欧*华"),
    ("司马相如", "司*如"),
    ("阿依古丽·买买提", "阿*提"),
    ("  李四 ", "李*"),
    ("张", "张*"),
    ("", "*"),
])
def test_mask_name(name, masked):
    assert mask_name(name) == masked


@pytest.mark.parametrize(("booklet_no", "suffix"), [
    ("QJ-0107", "07"), ("2026-012", "12"), ("7", "07"), ("QJ", ""), ("", "")])
def test_booklet_suffix(booklet_no, suffix):
    assert booklet_suffix(booklet_no) == suffix


def test_labels_without_clashes_are_the_masked_names():
    assert labels([(1, "张三", "QJ-01"), (2, "王秀英", "QJ-02"), (3, "欧阳明华", "")]) == {
        1: "张*", 2: "王*英", 3: "欧*华"}


def test_a_clash_adds_the_booklet_numbers_last_two_digits():
    got = labels([(1, "王秀英", "QJ-0107"), (2, "王桂英", "QJ-0212"), (3, "张三", "QJ-0003")])
    assert got == {1: "王*英(07)", 2: "王*英(12)", 3: "张*"}


def test_two_character_names_clash_too():
    assert labels([(5, "张三", "0015"), (6, "张四", "0026")]) == {5: "张*(15)", 6: "张*(26)"}


def test_a_clash_the_booklet_cannot_settle_gets_a_running_number_by_member_id():
    got = labels([(9, "王秀英", "QJ-0107"), (4, "王桂英", "QJ-1107"), (7, "王丽英", ""), (8, "王小英", "QJ-0309")])
    # 07 is shared and one has no booklet number: those three are numbered in member-id order
    assert got == {4: "王*英(1)", 7: "王*英(2)", 9: "王*英(3)", 8: "王*英(09)"}
    assert len(set(got.values())) == 4


def test_a_four_and_a_three_character_name_can_clash():
    assert labels([(1, "欧阳明华", "A-11"), (2, "欧明华", "A-22")]) == {1: "欧*华(11)", 2: "欧*华(22)"}


def test_mask_off_shows_full_names_and_still_tells_equal_names_apart():
    got = labels([(1, "王秀英", "QJ-0107"), (2, "王桂英", "QJ-0212"), (3, "张三", "")], mask=False)
    assert got == {1: "王秀英", 2: "王桂英", 3: "张三"}
    same = labels([(1, "王秀英", "QJ-0107"), (2, "王秀英", "QJ-0212")], mask=False)
    assert same == {1: "王秀英(07)", 2: "王秀英(12)"}


def test_clashing_names_only_the_members_that_need_a_booklet_number():
    members = [(1, "王秀英"), (2, "王桂英"), (3, "张三")]
    assert clashing(members) == {1, 2}
    assert clashing(members, mask=False) == set()
