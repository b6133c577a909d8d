"""Checks `aws ...` commands against the AWS CLI's service models, without calling AWS.

Reads a JSON list of {"id": ..., "argv": ["ecs", "update-service", "--cluster", ...]} on stdin and
writes a JSON list of {"id": ..., "problems": [...]} on stdout. A command passes when its service and
operation (or waiter) exist, a value of an enumeration (and --output) is one it has, it gives every required input member (unless it is "complete": false,
a mention or a command with elided parts), every `--option` is an input member of the operation, one of the CLI's
global options or one of the few options the CLI adds itself (CLI_ADDED) or renames (CLI_RENAMED), and its `--query` compiles
and reads only members the operation's output has, comparing values of the types they have
(JMESPath's `>` between a string and a number is null, so such a filter silently matches nothing,
or the CLI fails).

botocore (which moto needs, so the suite has it) carries the models, waiters and paginators; the
CLI itself need not be installed.
"""

import json
import sys

import botocore.session
import jmespath
from botocore import xform_name

# The AWS CLI's names for services whose botocore name differs.
CLI_SERVICES = {"s3api": "s3", "deploy": "codedeploy", "configservice": "config"}

GLOBAL_OPTIONS = {
    "--debug", "--endpoint-url", "--no-verify-ssl", "--no-paginate", "--output", "--query", "--profile",
    "--region", "--version", "--color", "--no-sign-request", "--ca-bundle", "--cli-read-timeout",
    "--cli-connect-timeout", "--cli-binary-format", "--no-cli-pager", "--cli-auto-prompt", "--no-cli-auto-prompt",
    "--cli-input-json", "--cli-input-yaml", "--generate-cli-skeleton",
}
PAGINATION_OPTIONS = {"--starting-token", "--page-size", "--max-items"}

# Options the CLI adds to an operation beyond its input members (awscli/customizations/), with the
# input member each stands in for, if any.
CLI_ADDED = {
    ("cloudfront", "create-invalidation"): {"--paths": "InvalidationBatch"},
    ("rds", "copy-db-snapshot"): {"--source-region": None},
}

# Input members the CLI gives another option name (awscli/customizations/argrename.py): the
# option the model would give, and the one the CLI takes instead.
CLI_RENAMED = {
    ("sns", "subscribe"): {"--endpoint": "--notification-endpoint"},
}

# Commands the CLI has beyond the operations of botocore's models (awscli/customizations/), with
# the options each takes besides the global ones.
S3_TRANSFER = {
    "--recursive", "--exclude", "--include", "--dryrun", "--quiet", "--only-show-errors", "--no-progress",
    "--sse", "--sse-kms-key-id", "--storage-class", "--acl", "--metadata", "--content-type", "--expected-size",
    "--request-payer", "--source-region", "--checksum-algorithm",
}
CLI_COMMANDS = {
    ("rds", "generate-db-auth-token"): {"--hostname", "--port", "--username"},
    ("ecr", "get-login-password"): set(),
    ("sso", "login"): {"--sso-session", "--no-browser", "--use-device-code"},
    ("s3", "ls"): {"--recursive", "--human-readable", "--summarize", "--page-size", "--request-payer"},
    ("s3", "cp"): S3_TRANSFER,
    ("s3", "mv"): S3_TRANSFER,
    ("s3", "rm"): {"--recursive", "--exclude", "--include", "--dryrun", "--quiet", "--only-show-errors", "--request-payer"},
    ("s3", "sync"): S3_TRANSFER | {"--delete", "--exact-timestamps", "--size-only"},
    ("s3", "presign"): {"--expires-in"},
}

OUTPUTS = ["json", "text", "table", "yaml", "yaml-stream"]


def is_placeholder(value):
    """A value the docs leave to the reader (`<stage>`), the shell (`$svc`) or the script (`X`)."""
    return value.startswith("--") or "<" in value or "$" in value or value == "X"


ORDERING = {"gt", "gte", "lt", "lte"}
NUMBER_TYPES = {"integer", "long", "double", "float"}


class Any:
    """A value of unknown shape: nothing below it is checked."""


ANY = Any()


class ListOf:
    """What a projection yields: a list of `element`."""

    def __init__(self, element):
        self.element = element


def type_name(t):
    if isinstance(t, ListOf):
        return "list"
    if isinstance(t, Any):
        return "any"
    return t.type_name


def element(t):
    if isinstance(t, ListOf):
        return t.element
    if not isinstance(t, Any) and t.type_name == "list":
        return t.member
    return ANY


def check_query(expression, output_shape):
    """Problems with `expression` read against `output_shape` (a botocore shape)."""
    try:
        parsed = jmespath.compile(expression).parsed
    except jmespath.exceptions.JMESPathError as error:
        return [f"--query {expression!r} does not compile: {error}"]
    problems = []

    def literal_type(value):
        if isinstance(value, bool):
            return "boolean"
        if isinstance(value, (int, float)):
            return "number"
        if isinstance(value, str):
            return "string"
        return "other"

    def scalar(node, t):
        """'number', 'string', 'boolean' or None (unknown) for a comparator's side."""
        if node["type"] == "literal":
            return literal_type(node["value"])
        name = type_name(t)
        if name in NUMBER_TYPES:
            return "number"
        # The CLI prints timestamps as ISO strings.
        if name in ("string", "timestamp"):
            return "string"
        if name == "boolean":
            return "boolean"
        return None

    def walk(node, t):
        kind = node["type"]
        children = node["children"]
        if kind in ("identity", "current"):
            return t
        if kind == "literal":
            return ANY
        if kind == "field":
            name = node["value"]
            if isinstance(t, Any):
                return ANY
            if isinstance(t, ListOf) or t.type_name == "list":
                problems.append(f"--query {expression!r}: `{name}` is read from a list (use `[].{name}` or an index)")
                return ANY
            if t.type_name == "map":
                return t.value
            if t.type_name != "structure":
                problems.append(f"--query {expression!r}: `{name}` is read from a {t.type_name}")
                return ANY
            if name not in t.members:
                problems.append(f"--query {expression!r}: {t.name} has no member `{name}` (it has {', '.join(t.members)})")
                return ANY
            return t.members[name]
        if kind == "subexpression":
            for child in children:
                t = walk(child, t)
            return t
        if kind == "index_expression":
            left = walk(children[0], t)
            if children[1]["type"] == "slice":
                return left
            return element(left)
        if kind == "flatten":
            inner = element(walk(children[0], t))
            return ListOf(element(inner) if type_name(inner) == "list" else inner)
        if kind == "projection":
            return ListOf(walk(children[1], element(walk(children[0], t))))
        if kind == "value_projection":
            left = walk(children[0], t)
            value = left.value if not isinstance(left, (Any, ListOf)) and left.type_name == "map" else ANY
            return ListOf(walk(children[1], value))
        if kind == "filter_projection":
            item = element(walk(children[0], t))
            walk(children[2], item)
            return ListOf(walk(children[1], item))
        if kind == "comparator":
            sides = [(child, walk(child, t)) for child in children]
            types = [scalar(child, side) for child, side in sides]
            if None not in types:
                if node["value"] in ORDERING and types != ["number", "number"]:
                    problems.append(
                        f"--query {expression!r}: `{node['value']}` compares a {types[0]} with a {types[1]}; "
                        "JMESPath orders numbers only (the spec makes the comparison null, so the filter matches nothing; "
                        "the CLI's jmespath fails with a TypeError): convert with to_number()"
                    )
                elif node["value"] in ("eq", "ne") and types[0] != types[1]:
                    problems.append(f"--query {expression!r}: `{node['value']}` compares a {types[0]} with a {types[1]}, which are never equal")
            return ANY
        if kind in ("and_expression", "or_expression", "not_expression", "multi_select_list", "pipe", "multi_select_dict", "key_val_pair"):
            if kind == "pipe":
                return walk(children[1], walk(children[0], t))
            for child in children:
                walk(child, t)
            return ANY
        if kind == "function_expression":
            args = [walk(child, t) if child["type"] != "expref" else None for child in children]
            for child, arg in zip(children, args):
                if child["type"] == "expref":
                    walk(child["children"][0], element(args[0]) if args and args[0] is not None else ANY)
            if node["value"] in ("reverse", "sort_by", "sort") and args and args[0] is not None:
                return args[0]
            return ANY
        return ANY

    walk(parsed, output_shape)
    return problems


def check(session, argv, complete):
    if len(argv) < 2:
        return ["names no operation"]
    cli_service, operation = argv[0], argv[1]
    if (cli_service, operation) in CLI_COMMANDS:
        allowed = GLOBAL_OPTIONS | CLI_COMMANDS[(cli_service, operation)]
        return [f"`aws {cli_service} {operation}` takes no {t}" for t in argv[2:] if t.startswith("--") and t not in allowed]
    service = CLI_SERVICES.get(cli_service, cli_service)
    if service not in session.get_available_services():
        return [f"`{cli_service}` is not an AWS CLI service"]
    model = session.get_service_model(service)
    by_cli_name = {xform_name(name, "-"): name for name in model.operation_names}
    rest = argv[2:]
    waiter = None
    if operation == "wait":
        if not rest:
            return ["`wait` names no waiter"]
        waiters = session.get_waiter_model(service)
        names = {xform_name(name, "-"): name for name in waiters.waiter_names}
        if rest[0] not in names:
            return [f"`aws {cli_service} wait` has no waiter `{rest[0]}` (it has {', '.join(sorted(names))})"]
        waiter = waiters.get_waiter(names[rest[0]])
        api_name, rest = waiter.operation, rest[1:]
    elif operation not in by_cli_name:
        return [f"`aws {cli_service}` has no operation `{operation}`"]
    else:
        api_name = by_cli_name[operation]
    op = model.operation_model(api_name)
    added = CLI_ADDED.get((cli_service, operation), {})
    renamed = CLI_RENAMED.get((cli_service, operation), {})

    def option_of(name):
        option = "--" + xform_name(name, "-")
        return renamed.get(option, option)

    allowed = set(GLOBAL_OPTIONS) | set(added)
    if op.input_shape is not None:
        for name, member in op.input_shape.members.items():
            allowed.add(option_of(name))
            if member.type_name == "boolean":
                allowed.add("--no-" + xform_name(name, "-"))
    if waiter is None and api_name in paginator_config(session, service):
        allowed |= PAGINATION_OPTIONS
    enums = {}
    if op.input_shape is not None:
        for name, member in op.input_shape.members.items():
            if member.type_name == "string" and member.enum:
                enums[option_of(name)] = member.enum
    enums["--output"] = OUTPUTS
    problems = []
    for i, token in enumerate(rest):
        if not token.startswith("--"):
            continue
        value = rest[i + 1] if i + 1 < len(rest) else None
        if token not in allowed:
            problems.append(f"`aws {cli_service} {operation}` takes no {token}")
        elif token in enums and value is not None and not is_placeholder(value) and value not in enums[token]:
            problems.append(f"`aws {cli_service} {operation}` {token} takes one of {', '.join(enums[token])}, not {value!r}")
        elif token == "--query" and waiter is None:
            if i + 1 >= len(rest):
                problems.append("--query has no expression")
            # A script's substitution (`--query '${query}'`): the caller's expressions are not in the line.
            elif rest[i + 1] == "X":
                pass
            elif op.output_shape is not None:
                problems.extend(check_query(rest[i + 1], op.output_shape))
    given = {token for token in rest if token.startswith("--")}
    if complete and op.input_shape is not None and "--cli-input-json" not in given:
        covered = {added[o] for o in given if added.get(o)}
        for name in op.input_shape.required_members:
            if option_of(name) not in given and name not in covered:
                problems.append(f"`aws {cli_service} {operation}` needs {option_of(name)}")
    return problems


def paginator_config(session, service):
    try:
        return session.get_paginator_model(service)._paginator_config
    except Exception:
        return {}


def main():
    session = botocore.session.get_session()
    commands = json.load(sys.stdin)
    json.dump([{"id": c["id"], "problems": check(session, c["argv"], c.get("complete", True))} for c in commands], sys.stdout)


if __name__ == "__main__":
    main()
