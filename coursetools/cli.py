"""Command line of the course tooling: ``python -m coursetools <command>``."""

import argparse
import sys

from .release import ReleaseError
from .solution import SolutionError


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m coursetools", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("release", help="copy utils/data into source/ and build release/ with nbgrader")
    p.add_argument("assignments", nargs="*", help="assignment names (default: all)")
    sub.add_parser("demo", help="build the release, autograde sample submissions (solution, blank, broken), print the report")
    sub.add_parser("expected-output", help="rewrite the notebook's expected training output from the reference solution")
    from .grading import add_arguments as add_grading_arguments
    add_grading_arguments(sub)
    from .parallel import add_arguments as add_parallel_arguments
    add_parallel_arguments(sub)
    args = parser.parse_args(argv)
    try:
        if args.command == "release":
            from .release import build_release
            build_release(args.assignments or None)
        elif args.command == "demo":
            from .demo import run
            run()
        elif args.command == "expected-output":
            from .expected_output import update_notebook
            update_notebook()
        elif args.command in ("grade", "report", "feedback"):
            from .grading import run_command
            return run_command(args)
        elif args.command == "grade-parallel":
            from .parallel import run_command as run_parallel
            return run_parallel(args)
    except (ReleaseError, SolutionError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
