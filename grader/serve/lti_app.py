"""The LTI routes of ``grader serve`` (Starlette endpoints at module level, as :mod:`grader.serve.app`).

==============================================  ==========================================
``GET /lti/jwks.json``                          the tool's public key (platforms verify its
                                                client assertions and deep-linking answers)
``GET|POST /lti/login``                         OIDC third-party-initiated login: to the LMS
``POST /lti/launch``                            the LMS's id_token: checked, then the page
``GET /lti/landing``, ``/lti/continue``         after a launch: the page in the LMS's frame, or
                                                in a window of its own (cookies blocked)
``GET|POST /lti/deep-link``                     an instructor picks an assignment for a link
``GET /assignments/ID``                         the learner's page of an assignment: their
                                                submissions, the LMS's copy of the grade, upload
``POST /assignments/ID/upload``                 the notebook uploaded from that page
==============================================  ==========================================

Cookies inside the LMS's frame.  The service is a third party there, and browsers now block
third-party cookies.  The state cookie of the login and the session cookie of the launch are
``SameSite=None; Secure; Partitioned`` (CHIPS): kept in a cookie jar of the LMS's site only,
which Chromium and Firefox allow with third-party cookies blocked.  A browser that keeps no
cookie in the frame at all (Safari with its default settings, or all cookies blocked) gets a
page with one button: the launch continues in a window of its own, where the service is the
first party; the window is opened with a ticket valid once and for two minutes.  Nothing of the
session ever travels in a URL beyond that ticket.  Every POST of these pages carries the
session's CSRF token (the session cookie is sent on cross-site requests).
"""
from __future__ import annotations

import hashlib
import json
import secrets
import time
from urllib.parse import parse_qs

from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, RedirectResponse

from . import lti, lti_services
from .policy import Refused
from .protect import refusal
from .site import Site

TICKET_S = 120          # a launch's ticket opens its page once, within two minutes


def _site(request) -> Site:
    return request.app.state.site


def _form(body: bytes) -> dict:
    return {k: v[0] for k, v in parse_qs(body.decode("utf-8", errors="replace")).items()}


def launch_refused(request, error: Refused):
    """The page of a refused launch: what was wrong, in one line (framable by the LMSs)."""
    site = _site(request)
    return site.page(request, "serve_message.html.j2", http_status=error.status, title="This launch was refused",
                     message=error.message, code=error.code, lms_framed=True)


# --- keys and login ------------------------------------------------------------------------------

async def jwks(request):
    """``GET /lti/jwks.json``: the tool's public key set."""
    site = _site(request)
    return JSONResponse(await run_in_threadpool(lti.jwks, site.out))


async def login(request):
    """``GET|POST /lti/login``: OIDC login initiation; 302 to the platform's authorization endpoint."""
    site = _site(request)
    params = dict(request.query_params)
    if request.method == "POST":
        params.update(_form(await request.body()))
    base = site.base(request)
    try:
        site.check_address(request)
        url, state = await run_in_threadpool(lti.begin_login, site.out, params, launch_url=f"{base}/lti/launch",
                                             base_url=base)
    except Refused as error:
        site.failed(request)
        return launch_refused(request, error)
    response = RedirectResponse(url, status_code=302)
    _cookie(site, request, response, lti.STATE_COOKIE, state, max_age=lti.STATE_S, path="/lti/")
    return response


def _cookie(site: Site, request, response, name: str, value: str, *, max_age: int, path: str = "/") -> None:
    from .site import _loopback, framed_cookie

    if site.secure(request) or _loopback(request.url.hostname):
        framed_cookie(response, name, value, max_age=max_age, path=path)
    else:
        response.set_cookie(name, value, max_age=max_age, path=path, httponly=True, samesite="lax")


# --- the launch ----------------------------------------------------------------------------------

async def launch(request):
    """``POST /lti/launch``: the id_token checked; the learner's page, the instructor's, or the picker."""
    site = _site(request)
    try:
        site.check_address(request)
        form = _form(await request.body())
        verified = await run_in_threadpool(lti.verify_launch, site.out, id_token=form.get("id_token", ""),
                                           state=form.get("state", ""),
                                           cookie_state=request.cookies.get(lti.STATE_COOKIE), keys=site.lti_keys)
        role, learner, data, target = await run_in_threadpool(_enter, site, verified)
    except Refused as error:
        if error.code not in ("left-course", "learner-not-instructor", "no-assignment"):
            site.failed(request)
        site.service.log(f"LTI launch refused ({error.code}): {error.message}")
        return launch_refused(request, error)
    ticket = secrets.token_urlsafe(24)
    response = RedirectResponse(f"/lti/landing?ticket={ticket}", status_code=303)
    token = site.set_session(request, response, role, learner, data, framed=True)
    site.tickets[ticket] = (token, target, time.monotonic() + TICKET_S)
    if request.cookies.get(lti.STATE_COOKIE):
        from .site import framed_cookie

        framed_cookie(response, lti.STATE_COOKIE, "", max_age=0, path="/lti/")   # used: forgotten
    site.service.log(f"LTI launch: {learner or 'instructor'} ({', '.join(sorted(verified.short_roles))}) from "
                     f"{verified.platform.issuer}, course {verified.context_title or verified.context} -> {target}")
    return response


def _enter(site: Site, launch: lti.Launch) -> tuple[str, str, dict, str]:
    """Who the launch signs in, the session's data, and the page it opens (refusals before any write)."""
    if launch.message_type == lti.RESOURCE_LINK and launch.wants_instructor_page and not launch.instructor:
        raise Refused(403, "This link opens the instructor's page, and your role in this course is a learner's: "
                           "open the assignment's own link.", code="learner-not-instructor")
    learner = lti.learner_for(site.out, launch)
    if launch.message_type == lti.RESOURCE_LINK:
        lti_services.record_member(site.out, launch)
    data = {"frame_origin": launch.platform.origin, "issuer": launch.platform.issuer,
            "client_id": launch.platform.client_id, "deployment": launch.deployment, "context": launch.context,
            "course": launch.context_title, "csrf": secrets.token_urlsafe(24), "lms_user": launch.sub}
    if launch.message_type == lti.DEEP_LINK_REQUEST:
        data["deep_linking"] = launch.deep_linking
        data["lineitems"] = launch.lineitems
        return "instructor", "", data, "/lti/deep-link"
    assignment = site.assignment_of_link(launch.custom.get("assignment", ""))
    if assignment is None:
        raise Refused(404, f"This link names no assignment of this service "
                           f"({launch.custom.get('assignment', '')[:80]!r}): the instructor links it again "
                           f"(deep linking) to one of {', '.join(site.assignments)}.", code="no-assignment")
    data["assignment"] = assignment.id
    if launch.lineitem:
        lti_services.record_lineitem(site.out, launch.platform.issuer, launch.context, assignment.id, launch.lineitem)
    elif launch.lineitems and not lti_services.known_lineitem(site.out, launch.platform.issuer, launch.context,
                                                               assignment.id):
        try:
            found = lti_services.find_lineitem(site.out, launch.platform, launch.lineitems, assignment.id)
        except Refused as error:   # the column is found again at the next launch
            site.service.log(f"line items of {launch.context_title or launch.context} not read: {error.message}")
            found = ""
        if found:
            lti_services.record_lineitem(site.out, launch.platform.issuer, launch.context, assignment.id, found)
    # The roster is read at every instructor's launch, and at a learner's when older than ROSTER_S.
    if launch.memberships_url and (launch.instructor or
                                   lti_services.roster_stale(site.out, launch.platform.issuer, launch.context)):
        try:
            lti_services.sync_roster(site.out, launch.platform, launch.context, launch.memberships_url)
        except Refused as error:   # the roster is a check, not a door: the launch itself says who
            site.service.log(f"roster of {launch.context_title or launch.context} not read: {error.message}")
    if launch.instructor:
        return "instructor", "", data, "/instructor"
    status = lti_services.member_status(site.out, launch.platform.issuer, launch.context, launch.sub)
    if status is not None and status != "Active":
        raise lti_services.left(launch.context_title)
    return "learner", learner, data, f"/assignments/{assignment.id}"


async def landing(request):
    """``GET /lti/landing?ticket=``: the launch's page when the frame kept its cookie, else the
    button that continues in a window of its own."""
    site = _site(request)
    ticket = request.query_params.get("ticket", "")
    found = site.tickets.get(ticket)
    if found is None or found[2] < time.monotonic():
        return launch_refused(request, Refused(401, "This launch's page was already opened, or its link is more "
                                                    "than two minutes old: open the assignment again from the LMS.",
                                               code="unknown-ticket"))
    token, target, _ = found
    from .site import COOKIE

    if request.cookies.get(COOKIE) == token:
        site.tickets.pop(ticket, None)
        return RedirectResponse(target, status_code=303)
    return site.page(request, "serve_lti_window.html.j2", title="Open in a new window",
                     url=f"/lti/continue?ticket={ticket}", lms_framed=True)


async def continue_window(request):
    """``GET /lti/continue?ticket=``: the launch's session, first-party, in its own window."""
    site = _site(request)
    ticket = request.query_params.get("ticket", "")
    found = site.tickets.pop(ticket, None)
    if found is None or found[2] < time.monotonic():
        return launch_refused(request, Refused(401, "This link was already used, or is more than two minutes "
                                                    "old: open the assignment again from the LMS.",
                                               code="unknown-ticket"))
    token, target, _ = found
    role, learner, data = site.sessions.get(token)
    response = RedirectResponse(target, status_code=303)
    site.set_session(request, response, role, learner, {k: v for k, v in data.items() if k != "frame_origin"})
    return response


# --- deep linking --------------------------------------------------------------------------------

def _csrf_ok(site: Site, request, given: str) -> bool:
    expected = site.session_data(request).get("csrf", "")
    return bool(expected) and secrets.compare_digest(str(given).encode(), expected.encode())


async def deep_link(request):
    """``GET /lti/deep-link``: the course's assignments to pick from; ``POST``: the signed answer."""
    site = _site(request)
    role, _ = site.session(request)
    data = site.session_data(request)
    if role != "instructor" or not data.get("deep_linking"):
        return launch_refused(request, Refused(403, "Adding an assignment to the course starts from the LMS "
                                                    "(its deep-linking launch), as an instructor.",
                                               code="instructors-only"))
    if request.method == "GET":
        return site.page(request, "serve_lti_pick.html.j2", title="Add an assignment", course=data.get("course", ""),
                         assignments=[{"id": a.id, "title": a.title or a.id, "points": _points(a)}
                                      for a in site.assignments.values()], csrf=data["csrf"])
    form = _form(await request.body())
    if not _csrf_ok(site, request, form.get("csrf", "")):
        return launch_refused(request, Refused(403, "This form is not this session's: open the LMS's link again.",
                                               code="csrf"))
    assignment = site.assignments.get(form.get("assignment", ""))
    if assignment is None:
        return launch_refused(request, Refused(404, "No such assignment in this service.", code="no-assignment"))
    jwt_text, return_url, reused = await run_in_threadpool(_deep_link_answer, site, request, data, assignment)
    site.service.log(f"deep link: {assignment.id} in {data.get('course') or data.get('context')} "
                     + ("(its existing line item)" if reused else "(a new line item)"))
    from .lti import origin_of

    return site.page(request, "serve_lti_post.html.j2", title="Adding the assignment", action=return_url,
                     jwt=jwt_text, lms_framed=True, form_action=(origin_of(return_url),))


def _points(assignment) -> float:
    return float(sum(p.points for p in assignment.parts))


def _deep_link_answer(site: Site, request, data: dict, assignment) -> tuple[str, str, bool]:
    """The signed LtiDeepLinkingResponse: one LtiResourceLink to ``assignment`` with its line item,
    unless the course has that assignment's line item already (re-linking makes no second column)."""
    platform = lti.find_platform(site.out, data["issuer"], data["client_id"])
    settings = data["deep_linking"]
    existing = lti_services.known_lineitem(site.out, platform.issuer, data["context"], assignment.id) or \
        lti_services.find_lineitem(site.out, platform, data.get("lineitems", ""), assignment.id)
    if existing:
        lti_services.record_lineitem(site.out, platform.issuer, data["context"], assignment.id, existing)
    title = assignment.title or assignment.id
    item = {"type": "ltiResourceLink", "title": title, "url": f"{site.base(request)}/lti/launch",
            "custom": {"assignment": assignment.id}}
    if not existing:
        item["lineItem"] = {"scoreMaximum": _points(assignment), "label": title, "resourceId": assignment.id,
                            "tag": "grade"}
    now = int(time.time())
    claims = {"iss": platform.client_id, "aud": platform.issuer, "iat": now, "exp": now + 300,
              "nonce": secrets.token_urlsafe(16), lti.LTI + "message_type": "LtiDeepLinkingResponse",
              lti.LTI + "version": "1.3.0", lti.LTI + "deployment_id": data["deployment"],
              "https://purl.imsglobal.org/spec/lti-dl/claim/content_items": [item],
              "https://purl.imsglobal.org/spec/lti-dl/claim/msg": f"Added {title}"}
    if settings.get("data") is not None:
        claims["https://purl.imsglobal.org/spec/lti-dl/claim/data"] = settings["data"]
    return lti.sign(site.out, claims), str(settings["deep_link_return_url"]), bool(existing)


# --- the learner's page of an assignment, and the upload -----------------------------------------

async def assignment_page(request):
    """``GET /assignments/ID``: the learner's submissions of it, the LMS's copy, the upload form."""
    site = _site(request)
    assignment = site.assignments.get(request.path_params["id"])
    role, learner = site.session(request)
    if assignment is None or role != "learner":
        return site.message_page(request, "Not found", Refused(404, "There is nothing of yours here: open the "
                                                                    "assignment from the LMS, or sign in at /me.",
                                                               code="not-found"))
    rows, lms, gone = await run_in_threadpool(_learner_view, site, learner, assignment)
    data = site.session_data(request)
    return site.page(request, "serve_lti_assignment.html.j2", title=assignment.title or assignment.id,
                     assignment=assignment, learner=learner, rows=rows, lms=lms, gone=gone,
                     csrf=data.get("csrf", ""), course=data.get("course", ""),
                     max_mb=assignment.submissions.max_upload_mb, points=_points(assignment),
                     deadline=str(assignment.submissions.deadline or ""))


def _learner_view(site: Site, learner: str, assignment):
    rows = [dict(r) for r in site.service.queue.of_learner(learner) if site.assignment_of_row(r) == assignment.id]
    lms = lti_services.lms_status(site.results_folder(assignment.id), learner)
    gone = lti_services.left_course(site.out, learner)
    return rows, lms, gone.message if gone else ""


async def upload(request):
    """``POST /assignments/ID/upload``: the notebook's bytes as the body (``X-File-Name``), from the
    learner's page; the checks of ``/submit`` (size, kind, deadline, attempts, rate), the same answers."""
    site = _site(request)
    assignment = site.assignments.get(request.path_params["id"])
    role, learner = site.session(request)
    try:
        if assignment is None or role != "learner":
            raise Refused(403, "Upload from your page: open the assignment from the LMS (or sign in at /me) first.",
                          code="no-session")
        if not _csrf_ok(site, request, request.headers.get("x-csrf-token", "")):
            raise Refused(403, "This upload is not from this session's page: reload the page and upload again.",
                          code="csrf")
        body = await request.body()   # capped and timed by BodyGuard
        accepted, name = await run_in_threadpool(_take_upload, site, learner, assignment, body,
                                                 request.headers.get("x-file-name", ""))
    except Refused as error:
        return refusal(error)
    url = f"/submissions/{accepted.id}"
    site.service.log(f"accepted {learner}: submission {accepted.id} ({assignment.id}, uploaded from the page), "
                     f"attempt {accepted.attempt}, {accepted.timing.label}")
    return JSONResponse({"id": accepted.id, "status": "queued", "attempt": accepted.attempt, "url": url,
                         "timing": accepted.timing.label, "penalty": accepted.timing.penalty,
                         "learnerMessage": f"Submitted {name} for grading: attempt {accepted.attempt}, "
                                           f"{accepted.timing.label}. Follow it at {url}"}, status_code=201)


def _take_upload(site: Site, learner: str, assignment, body: bytes, file_name: str):
    from pathlib import PurePath
    from urllib.parse import unquote

    from .tokens import Learner
    from .upload import Upload, check_notebook, too_large

    if len(body) > assignment.submissions.max_upload_mb * 1024 * 1024:
        raise too_large(assignment)
    if not body:
        raise Refused(400, "The upload is empty: choose the notebook file (.ipynb) and upload again.", code="empty")
    name = PurePath(unquote(file_name or "notebook.ipynb")).name[:200] or "notebook.ipynb"
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        raise Refused(400, "The file's name holds a character that is not text: rename the file.",
                      code="bad-text") from None
    gone = lti_services.left_course(site.out, learner)
    if gone is not None:
        raise gone
    upload_ = Upload(email="", token="", file_name=name, content=body, sha256=hashlib.sha256(body).hexdigest(),
                     claims={})
    check_notebook(upload_, assignment)
    row = site.service.queue.learner_row(learner)
    return site.service.accept(Learner(learner=learner, email=row["email"] if row else learner), upload_,
                               assignment), name


async def token(request):
    """``POST /assignments/ID/token``: a token for ``grader.submit(email, token)`` from the notebook, shown
    once to the signed-in learner (it replaces their previous one)."""
    from .tokens import issue_for

    site = _site(request)
    role, learner = site.session(request)
    try:
        if role != "learner":
            raise Refused(403, "Open the assignment from the LMS (or sign in at /me) first.", code="no-session")
        if not _csrf_ok(site, request, request.headers.get("x-csrf-token", "")):
            raise Refused(403, "This request is not from this session's page: reload the page.", code="csrf")
        gone = await run_in_threadpool(lti_services.left_course, site.out, learner)
        if gone is not None:
            raise gone
        email, given, expires = await run_in_threadpool(issue_for, site.out, learner)
    except Refused as error:
        return refusal(error)
    site.service.log(f"token issued to {learner} from their page")
    return JSONResponse({"email": email, "token": given, "expires_at": expires,
                         "learnerMessage": f"In your notebook: grader.submit({email!r}, {given!r}) (valid until "
                                           f"{expires[:10]}; a new one replaces it)."})


# --- dynamic registration ------------------------------------------------------------------------

async def register(request):
    """``GET /lti/register?ticket=&openid_configuration=&registration_token=``: LTI Dynamic Registration
    (:mod:`grader.serve.lti_register`); a page that tells the LMS's window it is done."""
    from . import lti_register

    site = _site(request)
    query = request.query_params
    try:
        site.check_address(request)
        platform = await run_in_threadpool(lti_register.register, site.out, ticket=query.get("ticket", ""),
                                           configuration_url=query.get("openid_configuration", ""),
                                           registration_token=query.get("registration_token", ""),
                                           public_url=site.base(request))
    except Refused as error:
        site.failed(request)
        return site.page(request, "serve_message.html.j2", http_status=error.status, title="Not registered",
                         message=error.message, code=error.code, lms_framed=True)
    site.service.log(f"LTI dynamic registration: {platform.issuer}, client id {platform.client_id}, deployment "
                     f"{', '.join(platform.deployments)}")
    site._origins = None   # the new LMS may frame the pages at once
    return site.page(request, "serve_lti_registered.html.j2", title="Registered", issuer=platform.issuer,
                     client_id=platform.client_id, lms_framed=True)


def routes():
    from starlette.routing import Route

    return [Route("/lti/jwks.json", jwks), Route("/lti/login", login, methods=["GET", "POST"]),
            Route("/lti/launch", launch, methods=["POST"]), Route("/lti/landing", landing),
            Route("/lti/continue", continue_window), Route("/lti/deep-link", deep_link, methods=["GET", "POST"]),
            Route("/assignments/{id}", assignment_page), Route("/assignments/{id}/upload", upload, methods=["POST"]),
            Route("/lti/register", register), Route("/assignments/{id}/token", token, methods=["POST"])]

