"""The street's settings, each with its default and a short explanation (street_settings.DEFAULTS)."""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _, lazy_gettext as _l

from ..access import requires, STREET_ADMIN
from ..checkin import parse_networks
from .. import audit
from ..db import db
from ..models import BRANCH_KINDS
from ..street_settings import DEFAULTS, all_settings, set_setting
from . import bp
from .forms import SettingsForm, options
from .scope import street_id

EXPLANATIONS = {
    "office_phone": _l("The supervision phone shown with every notice and on the query page."),
    "opinion_box": _l("Where residents find the opinion box, shown on the noticeboard, e.g. “the office "
                      "entrance, ground floor”."),
    "query_public_url": _l("Only if residents' phones can reach the query page (many intranets cannot): the "
                           "noticeboard then shows a QR code to it. Leave empty otherwise."),
    "board_rotation_seconds": _l("How long the office screen shows each page of the noticeboard."),
    "supervision_days": _l("How long a published quarter stays up for supervision; at least 3 days."),
    "mask_names": _l("张* and 李*明 instead of full names on the public noticeboard."),
    "board_dues_paid": _l("Each published quarter shows “党费已交” beside the members whose dues for it were paid in "
                          "full by the day it was published, as the dues register said then. Never an amount; "
                          "from the next publication on."),
    "flexible_branch_kinds": _l("Members of these kinds of branch may attend any branch's organisational life, "
                                "and it counts."),
    "timezone": _l("Dates and times are the street's; change only for a street outside China's time zone."),
    "deduction_confirm_points": _l("A deduction of this many points or more is recorded only after the secretary "
                                   "answers “are you sure?”."),
    "checkin_networks": _l("Only phones on these address ranges may sign in at a meeting's door, e.g. the office "
                           "Wi-Fi 192.168.10.0/24 (several: separate them with spaces). Empty: any network that "
                           "reaches the server."),
}


@bp.route("/settings", methods=["GET", "POST"])
@requires(STREET_ADMIN)
def settings():
    current = all_settings(street_id())
    shown = {**current, "checkin_networks": " ".join(current["checkin_networks"] or [])}
    form = SettingsForm(data=shown) if request.method == "GET" else SettingsForm()
    form.flexible_branch_kinds.choices = options(BRANCH_KINDS)
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            new = {k: getattr(form, k).data for k in DEFAULTS}
            new["flexible_branch_kinds"] = [k for k in BRANCH_KINDS if k in (new["flexible_branch_kinds"] or [])]
            new["mask_names"] = bool(new["mask_names"])
            new["board_dues_paid"] = bool(new["board_dues_paid"])
            new["checkin_networks"] = parse_networks(new["checkin_networks"] or "")
            for k in ("office_phone", "opinion_box", "query_public_url", "timezone"):
                new[k] = new[k] or ""
            changed = {k for k in DEFAULTS if new[k] != current[k]}
            for k in changed:
                set_setting(street_id(), k, new[k])
            if changed:
                audit.record("settings_changed", summary=", ".join(sorted(changed)),
                             before={k: current[k] for k in sorted(changed)}, after={k: new[k] for k in sorted(changed)})
            db.session.commit()
            flash(_("Settings saved.") if changed else _("Nothing changed."), "success" if changed else "info")
            return redirect(url_for("admin.settings")), 303
        status = 422
    return render_template("admin/settings.html", form=form, explanations=EXPLANATIONS,
                           default_texts=_default_texts()), status


def _default_texts() -> dict[str, str]:
    from ..templating import BRANCH_KIND_LABELS

    out = {}
    for k, v in DEFAULTS.items():
        if isinstance(v, bool):
            out[k] = str(_l("on") if v else _l("off"))
        elif isinstance(v, list):
            out[k] = "、".join(str(BRANCH_KIND_LABELS.get(x, x)) for x in v) or str(_l("none"))
        elif v == "":
            out[k] = str(_l("empty"))
        else:
            out[k] = str(v)
    return out
