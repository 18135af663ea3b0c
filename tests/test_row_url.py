"""A table's row URLs built from one url_for per page are the URLs url_for builds for each row."""
from __future__ import annotations

import pytest

from qscore.templating import RowUrl


@pytest.mark.parametrize("branch_id, member_id", [(2, 5), (21, 398), (7391046285193, 12), (3, 7391046285193)])
def test_every_row_gets_url_fors_own_answer(app, branch_id, member_id):
    with app.test_request_context():
        from flask import url_for

        add, quick = RowUrl("entry.add_form", branch_id=branch_id), RowUrl("entry.quick_add", branch_id=branch_id)
        for row in (member_id, member_id + 1):
            assert add(row) == url_for("entry.add_form", branch_id=branch_id, member_id=row)
            assert add(row, indicator="J1") == url_for("entry.add_form", branch_id=branch_id, member_id=row,
                                                       indicator="J1")
            for code in ("J1", "Z3"):
                assert quick(row, code=code) == url_for("entry.quick_add", branch_id=branch_id, member_id=row,
                                                        code=code)
        assert RowUrl("booklet.show")(member_id) == url_for("booklet.show", member_id=member_id)


def test_a_row_id_is_only_ever_a_number(app):
    with app.test_request_context():
        with pytest.raises(ValueError):
            RowUrl("booklet.show")("5/../../admin")
