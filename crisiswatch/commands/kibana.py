"""`crisiswatch kibana install|export`: the data view and dashboard for the mentions index.

Credentials come from the environment: KIBANA_API_KEY, or KIBANA_USERNAME and KIBANA_PASSWORD.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from crisiswatch.errors import CrisiswatchError

DEFAULT_URL = "http://127.0.0.1:5601"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("kibana", help="install or export the Kibana data view and dashboard")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    install = actions.add_parser("install", help="import the saved objects into Kibana (overwrites ours)")
    install.add_argument("--url", default=os.environ.get("KIBANA_URL", DEFAULT_URL),
                         help=f"Kibana URL (default: $KIBANA_URL or {DEFAULT_URL})")
    install.add_argument("--space", help="Kibana space id (default: the default space)")
    export = actions.add_parser("export", help="write the saved objects as NDJSON (Stack Management > Import)")
    export.add_argument("file", help="output .ndjson file")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from index.kibana import DASHBOARD_ID, install, kibana_client, saved_objects, to_ndjson

    objects = saved_objects()
    if args.action == "export":
        try:
            Path(args.file).write_text(to_ndjson(objects), encoding="utf-8")
        except OSError as exc:
            raise CrisiswatchError(f"cannot write {args.file}: {exc.strerror}") from None
        print(f"wrote {len(objects)} saved objects to {args.file}")
        return 0
    from elastic_transport import TransportError
    from kibana.exceptions import ApiError, KibanaException

    client = kibana_client(args.url)
    try:
        summary = install(client, args.space)
    except ApiError as exc:
        raise CrisiswatchError(f"Kibana refused the import: {exc}") from None
    except (KibanaException, TransportError) as exc:
        raise CrisiswatchError(f"cannot reach Kibana at {args.url}: {exc}") from None
    finally:
        client.close()
    if not summary.get("success", False):
        errors = "; ".join(f"{e.get('type')}/{e.get('id')}: {e.get('error', {}).get('type')}"
                           for e in summary.get("errors", []))
        raise CrisiswatchError(f"Kibana imported {summary.get('successCount', 0)} of {len(objects)}: {errors}")
    space = f"/s/{args.space}" if args.space else ""
    print(f"installed {summary.get('successCount', len(objects))} saved objects · dashboard "
          f"{args.url.rstrip('/')}{space}/app/dashboards#/view/{DASHBOARD_ID}")
    return 0
