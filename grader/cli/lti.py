"""``grader lti``: the service as an LTI 1.3 tool - its configuration for the LMS, the platforms it trusts."""
from __future__ import annotations

from .options import EXIT_OK


def add_parser(commands) -> None:
    lti = commands.add_parser("lti", help="register grader serve with an LMS (LTI 1.3)",
                              description="Print what an LMS administrator pastes to register grader serve as "
                                          "an LTI 1.3 tool (Canvas's JSON, Moodle's form), and record the "
                                          "platform's values back.")
    actions = lti.add_subparsers(dest="action", metavar="ACTION", required=True)
    config = actions.add_parser("config", help="the tool's URLs, Canvas's JSON and Moodle's form values",
                                description="Print the tool's login, launch, deep-linking and key set URLs, the "
                                            "JSON Canvas takes and the values of Moodle's form; makes the tool's "
                                            "key (OUT/serve/lti/tool-key.pem, owner-only) when there is none.")
    config.add_argument("--out", "-o", default="results", metavar="DIR", help="results folder of the service")
    config.add_argument("--public-url", required=True, metavar="URL",
                        help="the https address learners' browsers reach the service at")
    config.add_argument("--title", default="grader", help="the tool's name in the LMS (default: grader)")
    config.add_argument("--json", action="store_true", help="only Canvas's JSON, nothing else")
    add = actions.add_parser("add-platform", help="trust an LMS: the values it shows once the tool is registered",
                             description="Record an LMS registration: its issuer, the client id it gave the tool, "
                                         "the deployment id(s), and its authorization, key set and token URLs.")
    add.add_argument("--out", "-o", default="results", metavar="DIR", help="results folder of the service")
    add.add_argument("--issuer", required=True, help="the platform's issuer (Canvas: https://canvas.instructure.com)")
    add.add_argument("--client-id", required=True, help="the client id the LMS gave the tool")
    add.add_argument("--deployment-id", action="append", default=[], metavar="ID",
                     help="a deployment id the LMS shows (repeatable)")
    add.add_argument("--auth-url", required=True, metavar="URL", help="the platform's OIDC authorization endpoint")
    add.add_argument("--jwks-url", required=True, metavar="URL", help="the platform's public key set")
    add.add_argument("--token-url", required=True, metavar="URL", help="the platform's OAuth 2 token endpoint")
    add.add_argument("--origin", default="", metavar="URL",
                     help="the LMS's web address, the only site allowed to frame the pages "
                          "(default: the authorization URL's)")
    register = actions.add_parser("register", help="a URL for the LMS's dynamic registration (LTI 1.3)",
                                  description="Print a registration URL, valid once and for a day, to paste where "
                                              "the LMS takes a tool's dynamic registration URL: the LMS then "
                                              "registers the tool and the service records the platform itself.")
    register.add_argument("--out", "-o", default="results", metavar="DIR", help="results folder of the service")
    register.add_argument("--public-url", required=True, metavar="URL",
                          help="the https address the LMS and learners' browsers reach the service at")
    listing = actions.add_parser("platforms", help="the LMSs the service trusts")
    listing.add_argument("out", metavar="OUT", nargs="?", default="results")


def run(args) -> int:
    from ..serve import lti, lti_config, lti_register

    if args.action == "config":
        text = lti_config.describe(out=args.out, public_url=args.public_url, title=args.title, json_only=args.json)
        print(text)
        return EXIT_OK
    if args.action == "add-platform":
        platform = lti.add_platform(args.out, issuer=args.issuer, client_id=args.client_id,
                                    auth_url=args.auth_url, jwks_url=args.jwks_url, token_url=args.token_url,
                                    deployments=args.deployment_id, origin=args.origin)
        print(f"trusting {platform.issuer} (client id {platform.client_id}, deployment(s) "
              f"{', '.join(platform.deployments)}); its pages may be framed by {platform.origin}")
        return EXIT_OK
    if args.action == "register":
        lti.tool_key(args.out)
        print(f"dynamic registration URL (valid once, for a day): "
              f"{lti_register.registration_url(args.out, args.public_url)}")
        return EXIT_OK
    found = lti.platforms(args.out)
    if not found:
        print(f"no LMS registered in {args.out}: grader lti config, then grader lti add-platform")
    for platform in found:
        print(f"{platform.issuer}  client {platform.client_id}  deployments {', '.join(platform.deployments)}  "
              f"framed by {platform.origin}")
    return EXIT_OK
