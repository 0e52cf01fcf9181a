"""The check helpers of the Python tests (tests/python/test_*.py, run by tests/cli): check
counts a check and records a failure, raises wants a bmx.BmxError that names what it should,
type_error a TypeError, optional imports what may be missing, done prints the count and
exits 1 when any check failed."""
import importlib
import sys

import bmx

fails = []
count = 0


def check(cond, what):
    global count
    count += 1
    if not cond:
        fails.append(what)
        print("FAIL", what)


def raises(fn, *needles, code=None):
    """fn() raises bmx.BmxError whose message holds every needle (and whose code is code, when
    given); returns the message."""
    try:
        fn()
    except bmx.BmxError as e:
        msg = str(e)
        ok = all(n in msg for n in needles) and (code is None or e.code == code)
        check(ok, "message %r (code %s) lacks %r / %s" % (msg, e.code, needles, code))
        return msg
    check(False, "no BmxError (wanted %r)" % (needles,))


def type_error(fn, needle, what):
    """fn() (given what it should refuse) raises TypeError whose message holds needle."""
    try:
        fn()
        check(False, "%s accepted" % what)
    except TypeError as e:
        check(needle in str(e), "%s message: %s" % (what, e))


def optional(module, package):
    """The module, or None (saying that its parts are skipped) when package is not installed."""
    try:
        return importlib.import_module(module)
    except ImportError:
        print("skip: %s parts (%s is not installed)" % (module, package))
        return None


def done():
    print("%d checks, %d failed" % (count, len(fails)))
    sys.exit(1 if fails else 0)
