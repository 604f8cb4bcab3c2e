"""Words for the codes the back office shows (statuses, methods, history actions, MRZ fields...).

Msgids are English (``N_``); the templates translate them with ``_()`` at render time. An unknown
code is shown as it is rather than hidden.
"""

from __future__ import annotations

from datetime import timedelta

from sesame.web.i18n import N_, gettext

STATUS = {
    "in_person": N_("Waiting for an in-person check"),
    "online_letter": N_("Waiting for the person's video"),
    "online_review": N_("Waiting for a review"),
    "activation": N_("Approved"),
    "completed": N_("Completed"),
    "rejected": N_("Rejected"),
    "refused": N_("Refused"),
    "abandoned": N_("Abandoned"),
}
METHOD = {
    "postman": N_("Postman at home"),
    "post_office": N_("Post office"),
    "online": N_("Fully online"),
}
DOCUMENT_KIND = {
    "national_id_card": N_("National identity card"),
    "passport": N_("Passport"),
    "residence_permit": N_("Residence permit"),
}
MRZ_OUTCOME = {
    "match": N_("The machine-readable zone matches the form"),
    "mismatch": N_("The machine-readable zone does not match the form"),
    "unreadable": N_("The machine-readable zone could not be read"),
    "not_checked": N_("The machine-readable zone was not checked"),
}
MRZ_FIELD = {
    "document_number": N_("Document number"),
    "family_name": N_("Birth name"),
    "given_names": N_("Given names"),
    "birth_date": N_("Birth date"),
    "expiry_date": N_("Expiry date"),
    "sex": N_("Sex"),
    "nationality": N_("Nationality"),
}
OVERRIDE = {
    "mrz_mismatch": N_("the machine-readable zone does not match the form"),
    "mrz_unreadable": N_("the machine-readable zone could not be read"),
    "document_expired": N_("the document has expired"),
}
CHECK = {
    "original_seen": N_("I have seen the original document (not a copy, not a photo)"),
    "photo_matches": N_("The photo on the document is the person in front of me"),
    "data_matches": N_("The document says what the form says"),
    "document_valid": N_("The document is genuine and undamaged"),
}
DOCUMENT_LABEL = {
    "recto": N_("Front"),
    "verso": N_("Back"),
    "photo": N_("Photo of the document"),
    "video": N_("Video"),
}
HISTORY = {
    "terms_accepted": N_("Terms accepted"),
    "document_added": N_("Document added"),
    "identity_filled": N_("Identity form filled"),
    "identity_confirmed": N_("Identity form confirmed"),
    "modify": N_("Went back to modify"),
    "mobile_given": N_("Mobile number given"),
    "mobile_verified": N_("Mobile number verified"),
    "address_given": N_("Address given"),
    "method_chosen": N_("Verification method chosen"),
    "letter_sent": N_("Registered letter sent"),
    "video_started": N_("Video started"),
    "video_submitted": N_("Photo and video sent"),
    "video_failed": N_("Video unusable"),
    "approved": N_("Approved"),
    "rejected": N_("Rejected"),
    "refused": N_("Refused"),
    "abandoned": N_("Abandoned"),
    "activated": N_("Identity activated"),
    "activation_code_renewed": N_("New activation code"),
    "second_approval_requested": N_("Approval waiting for a supervisor"),
    "second_approval_confirmed": N_("Second approval given"),
    "second_approval_refused": N_("Second approval refused"),
}
ACTOR = {"person": N_("The person"), "system": N_("Automatic")}
#: Why a decision was refused (sesame.backoffice.access.DecisionRefused.reason).
REFUSAL = {
    "checks_missing": N_("Tick every check before approving."),
    "reason_required": N_("Give a reason: the person will be told."),
    "reason_too_long": N_("The reason is too long (500 characters at most)."),
    "code_wrong": N_("This is not the person's code of the day. Ask them to read it again from the SMS."),
    "code_expired": N_("The person's code has expired: they can ask for a new one from their identity page."),
    "code_locked": N_(
        "Too many wrong codes: the person must ask for a new code from their identity page before you approve."
    ),
    "no_code": N_("The person has no code of the day: they can ask for one from their identity page."),
    "same_agent": N_("You approved this case yourself: another supervisor must give the second approval."),
}
OUTCOME = {
    "approved": N_("Case %(case)s approved: the activation code is on its way to the person."),
    "rejected": N_("Case %(case)s rejected."),
    "pending_second_approval": N_("Case %(case)s approved: a supervisor must now confirm this approval."),
    "video_unusable": N_("Case %(case)s: the person will be asked for a new video."),
}

#: After a second unusable video (seed 004): the person may try again after this time.
VIDEO_BLOCKED = N_("Two videos were unusable: the person can send a new one after %(time)s.")


def label(table: dict[str, str], code: object) -> str:
    """The translated word for ``code`` (the code itself when unknown)."""
    text = str(getattr(code, "value", code) or "")
    return gettext(table[text]) if text in table else text


def detail(text: str) -> str:
    """A history line's detail: known codes (a method, a document kind, overrides) in words."""
    parts = [part.strip() for part in text.split(",")]
    for table in (METHOD, DOCUMENT_KIND, OVERRIDE):
        if parts and all(part in table for part in parts):
            return ", ".join(gettext(table[part]) for part in parts)
    return text


def age_text(age: timedelta) -> str:
    """ "3 d 4 h", "5 h 12 min", "12 min": how long a case has waited."""
    minutes = max(0, int(age.total_seconds() // 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return gettext("%(days)s d %(hours)s h") % {"days": days, "hours": hours}
    if hours:
        return gettext("%(hours)s hr %(minutes)s min") % {"hours": hours, "minutes": minutes}
    return gettext("%(minutes)s minutes") % {"minutes": minutes}
