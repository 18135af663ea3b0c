"""People's names in one order everywhere: by Hanyu Pinyin, as a street office's paper rosters are.

Every list of members (roster, reconciliation, booklets, board, exports) orders by ``Member.name_key``,
kept by the model whenever a name is set. Codepoint order (what SQLite and PostgreSQL's C collation
give for Chinese) puts 王 before 李 and after 张 in no order a secretary would recognise.
"""
from __future__ import annotations

from functools import lru_cache

from pypinyin import Style, lazy_pinyin

# Surnames read differently from the same character in ordinary words (曾经 ceng, 曾姓 zeng). pypinyin
# reads words, not names, so a name's first character is looked up here first.
SURNAME_READINGS = {
    "曾": "zeng1", "单": "shan4", "解": "xie4", "区": "ou1", "仇": "qiu2", "查": "zha1", "乐": "yue4",
    "朴": "piao2", "翟": "zhai2", "盖": "ge3", "繁": "po2", "缪": "miao4", "覃": "qin2", "秘": "bi4",
    "种": "chong2", "重": "chong2", "燕": "yan1", "华": "hua4", "纪": "ji3", "石": "shi2", "冯": "feng2",
    "褚": "chu3", "柏": "bai3", "宿": "su4", "尉": "wei4", "长": "chang2", "藏": "zang4", "员": "yun4",
    "贾": "jia3", "阚": "kan4", "薄": "bo2", "过": "guo1", "祭": "zhai4", "沈": "shen3", "那": "na1",
}
COMPOUND_SURNAMES = {"长孙": "zhang3 sun1", "尉迟": "yu4 chi2", "单于": "chan2 yu2", "万俟": "mo4 qi2"}


@lru_cache(maxsize=20_000)
def sort_key(name: str) -> str:
    """The name as numbered-tone pinyin syllables: "zhang1 wei3" (order by it, then by name and id)."""
    name = (name or "").strip()
    head, rest = "", name
    for surname, reading in COMPOUND_SURNAMES.items():
        if name.startswith(surname):
            head, rest = reading, name[len(surname):]
            break
    else:
        if name[:1] in SURNAME_READINGS:
            head, rest = SURNAME_READINGS[name[0]], name[1:]
    syllables = lazy_pinyin(rest, style=Style.TONE3, neutral_tone_with_five=True, errors="default")
    return " ".join(s.lower() for s in ([head] if head else []) + syllables if s.strip())
