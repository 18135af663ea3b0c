"""Communities and branches: create, rename, retire (history kept), every write audited."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from qscore.db import db
from qscore.models import AuditLog, Branch, Community, Street

from .conftest import make_member

HX = {"HX-Request": "true"}


def audits(app, action):
    with app.app_context():
        return db.session.scalars(select(AuditLog).where(AuditLog.action == action)).all()


def count(app, model, **where):
    with app.app_context():
        stmt = select(func.count()).select_from(model)
        for k, v in where.items():
            stmt = stmt.where(getattr(model, k) == v)
        return db.session.scalar(stmt)


@pytest.fixture
def admin(client, auth, org):
    client.set_cookie("qscore_lang", "en")
    auth.login("admin")
    return client


def test_create_community_and_branch(app, admin, org):
    resp = admin.post("/admin/communities", data={"name": " 阳光社区 "})
    assert resp.status_code == 302
    with app.app_context():
        c = db.session.scalar(select(Community).where(Community.name == "阳光社区"))
        assert c is not None and c.street_id == org.street_id
        cid = c.id
    resp = admin.post("/admin/branches", data={"community_id": cid, "name": "阳光第一支部", "kind": "retirees"})
    assert resp.status_code == 302
    with app.app_context():
        b = db.session.scalar(select(Branch).where(Branch.name == "阳光第一支部"))
        assert (b.community_id, b.kind) == (cid, "retirees")
    assert [a.summary for a in audits(app, "community_created")] == ["阳光社区"]
    assert audits(app, "branch_created")[0].after["kind"] == "retirees"
    page = admin.get("/admin/organisations").get_data(as_text=True)
    assert "阳光第一支部" in page and "Retirees" in page


@pytest.mark.parametrize(("data", "message"), [
    ({"name": ""}, "Fill this in."),
    ({"name": "前进社区"}, "A community with this name exists."),
    ({"name": "x" * 101}, "At most 100 characters."),
])
def test_bad_community_is_refused(app, admin, org, data, message):
    before = count(app, Community)
    resp = admin.post("/admin/communities", data=data)
    assert resp.status_code == 422
    assert message in resp.get_data(as_text=True)
    assert count(app, Community) == before and not audits(app, "community_created")


@pytest.mark.parametrize(("data", "message"), [
    ({"name": "第一党支部", "kind": "ordinary"}, "This community already has a branch with this name."),
    ({"name": "新支部", "kind": "nonsense"}, "Not a valid choice."),
    ({"name": "", "kind": "ordinary"}, "Fill this in."),
])
def test_bad_branch_is_refused(app, admin, org, data, message):
    before = count(app, Branch)
    resp = admin.post("/admin/branches", data={"community_id": org.community_id, **data})
    assert resp.status_code == 422
    assert message in resp.get_data(as_text=True)
    assert count(app, Branch) == before


def test_rename_branch_inline(app, admin, org):
    form = admin.get(f"/admin/branches/{org.branch_id}/row?edit=1", headers=HX).get_data(as_text=True)
    assert 'name="name"' in form and "第一党支部" in form
    resp = admin.post(f"/admin/branches/{org.branch_id}", data={"name": "第一支部（改）", "kind": "mobile"}, headers=HX)
    assert resp.status_code == 200
    body = resp.get_data(as_text=True)
    assert body.lstrip().startswith(f'<tr id="branch-{org.branch_id}-row"') and "第一支部（改）" in body
    (row,) = audits(app, "branch_updated")
    assert row.before == {"name": "第一党支部", "kind": "ordinary"}
    assert row.after == {"name": "第一支部（改）", "kind": "mobile"}


def test_rename_branch_to_a_sibling_name_is_refused_in_the_row(app, admin, org):
    resp = admin.post(f"/admin/branches/{org.branch_id}", data={"name": "再就业党支部", "kind": "ordinary"}, headers=HX)
    assert resp.status_code == 422
    assert "This community already has a branch with this name." in resp.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Branch, org.branch_id).name == "第一党支部"


def test_rename_community_inline(app, admin, org):
    resp = admin.post(f"/admin/communities/{org.community_id}", data={"name": "前进新社区"}, headers=HX)
    assert resp.status_code == 200 and "前进新社区" in resp.get_data(as_text=True)
    assert audits(app, "community_renamed")[0].before == {"name": "前进社区"}
    resp = admin.post(f"/admin/communities/{org.community_id}", data={"name": "和平社区"}, headers=HX)
    assert resp.status_code == 422


def test_retiring_a_branch_with_members_is_refused(app, admin, org):
    with app.app_context():
        make_member(org.branch_id, "张伟")
        db.session.commit()
    resp = admin.post(f"/admin/branches/{org.branch_id}/retire", follow_redirects=True)
    assert "still has members on its roll (1)" in resp.get_data(as_text=True)
    with app.app_context():
        assert not db.session.get(Branch, org.branch_id).retired
    assert not audits(app, "branch_retired")


def test_retire_and_reinstate_keep_history(app, admin, org):
    resp = admin.post(f"/admin/branches/{org.sibling_branch_id}/retire", follow_redirects=True)
    assert "is retired. Its history is kept." in resp.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Branch, org.sibling_branch_id).retired
    assert audits(app, "branch_retired")
    # A retired branch is offered nowhere for new work.
    new_member = admin.get("/admin/members/new").get_data(as_text=True)
    assert "再就业党支部" not in new_member
    assert admin.post(f"/admin/branches/{org.sibling_branch_id}/reinstate").status_code == 303
    with app.app_context():
        assert not db.session.get(Branch, org.sibling_branch_id).retired


def test_retiring_a_community_needs_its_branches_retired(app, admin, org):
    resp = admin.post(f"/admin/communities/{org.other_community_id}/retire", follow_redirects=True)
    assert "still has branches in use (1)" in resp.get_data(as_text=True)
    admin.post(f"/admin/branches/{org.other_branch_id}/retire")
    admin.post(f"/admin/communities/{org.other_community_id}/retire")
    with app.app_context():
        assert db.session.get(Community, org.other_community_id).retired
        assert db.session.get(Branch, org.other_branch_id) is not None  # nothing deleted
    # A branch of a retired community cannot be reinstated alone.
    resp = admin.post(f"/admin/branches/{org.other_branch_id}/reinstate", follow_redirects=True)
    assert "Reinstate the community" in resp.get_data(as_text=True)


def test_another_streets_organisations_are_not_found(app, admin, org):
    with app.app_context():
        s = Street(name="别的街道")
        db.session.add(s)
        db.session.flush()
        c = Community(street_id=s.id, name="外社区")
        db.session.add(c)
        db.session.flush()
        b = Branch(community_id=c.id, name="外支部")
        db.session.add(b)
        db.session.commit()
        cid, bid = c.id, b.id
    assert admin.post(f"/admin/communities/{cid}", data={"name": "x"}, headers=HX).status_code == 404
    assert admin.post(f"/admin/branches/{bid}/retire").status_code == 404
    assert admin.get(f"/admin/branches/{bid}/row").status_code == 404
    assert admin.post("/admin/branches", data={"community_id": cid, "name": "y", "kind": "ordinary"}).status_code == 422
