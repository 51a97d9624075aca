"""`privobf serve`: the command-line side of the web page (arguments, scanner, uvicorn).

The server binds its socket itself before handing it to uvicorn, so "port already in use" is one clear
line instead of a uvicorn log, and tests can ask for port 0 and read back the port they got.
"""

from __future__ import annotations

import argparse
import errno
import ipaddress
import socket
import sys
from typing import TYPE_CHECKING

from ..option_types import MAX_MEGAPIXELS, MIN_MEGAPIXELS, bounded_float, megapixel_limit, port_number

if TYPE_CHECKING:
    from fastapi import FastAPI

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
EXIT_OK, EXIT_USAGE = 0, 2
MAX_UPLOAD_MB = 2000.0  # a photo file is tens of MB, and every upload is held in memory while it is read
upload_mb = bounded_float(0.0, MAX_UPLOAD_MB, low_open=True, what="a number of MB")
CHECKED_OPTIONS = {  # option -> (argparse type, attribute): shared by argparse and build_app's own check
    "--port": (port_number, "port"),
    "--max-upload-mb": (upload_mb, "max_upload_mb"),
    "--max-megapixels": (megapixel_limit, "max_megapixels"),
}


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `privobf serve`; cli.py calls this on the subcommand's parser."""
    from ..priors.options import add_prior_arguments

    parser.add_argument("--host", default="127.0.0.1", help=(
        "address to listen on (default: %(default)s, this computer only; another address lets anyone on "
        "your network upload photos)"))
    parser.add_argument("--port", type=port_number, default=8765, help=(
        "port to listen on, 0 to 65535; 0 picks a free one (default: %(default)s)"))
    parser.add_argument("--model", help="model file (.safetensors) from `privobf train`; default: the embedded model")
    parser.add_argument("--segmentation", metavar="SEG.safetensors", help=(
        "take the masks from this segmentation network (from `privobf train-seg`), as `privobf scan --segmentation`"))
    parser.add_argument("--segmentation-threshold", type=float, default=None, metavar="P", help=(
        "with --segmentation: probability from which a pixel is inside a mask the network gives (default 0.5)"))
    add_prior_arguments(parser)
    parser.add_argument("--max-upload-mb", type=upload_mb, default=25.0, help=(
        f"largest photo file accepted, in MB, at most {MAX_UPLOAD_MB:g} (default: %(default)g)"))
    parser.add_argument("--max-megapixels", type=megapixel_limit, default=40.0, help=(
        f"largest photo accepted, in megapixels, checked before decoding; {MIN_MEGAPIXELS:g} (16x16 pixels) to "
        f"{MAX_MEGAPIXELS:g} (default: %(default)g)"))


def is_loopback(host: str) -> bool:
    """True for addresses only this computer can reach."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening socket on (host, port); socket.gaierror for a host that does not resolve, OSError when
    no address of the host can be bound (the first address's error: the one the user expects).

    A host name is resolved to choose the address family ("localhost" may be ::1 first); port 0 asks the
    system for a free port, which getsockname() then reports.
    """
    addresses = socket.getaddrinfo(host.strip("[]") or "0.0.0.0", port, type=socket.SOCK_STREAM,
                                   flags=socket.AI_PASSIVE)
    first_error: OSError | None = None
    for family, kind, protocol, _, address in addresses:
        try:
            return _listen(family, kind, protocol, address)
        except OSError as error:
            first_error = first_error or error
    raise first_error or OSError(errno.EADDRNOTAVAIL, f"{host} has no address")


def _listen(family: int, kind: int, protocol: int, address: tuple) -> socket.socket:
    sock = socket.socket(family, kind, protocol)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(64)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def listen_error_message(host: str, port: int, error: OSError) -> str:
    """One line saying which option to change: a host that does not resolve or is not this computer's is
    not fixed by another --port."""
    reason = error.strerror or str(error)
    if isinstance(error, socket.gaierror):
        return f"cannot listen on {host}: no such host name or address ({reason})"
    where = f"cannot listen on {f'[{host}]' if ':' in host and not host.startswith('[') else host}:{port}"
    if error.errno == errno.EADDRINUSE:
        return f"{where}: port {port} is already in use; choose another --port"
    if error.errno == errno.EADDRNOTAVAIL:
        return (f"{where}: {host} is not an address of this computer; choose another --host "
                "(127.0.0.1: this computer only)")
    if error.errno == errno.EACCES and 0 < port < 1024:
        return f"{where}: ports below 1024 need administrator rights; choose another --port"
    return f"{where} ({reason})"


def page_url(host: str, port: int) -> str:
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else host
    shown = f"[{shown}]" if ":" in shown and not shown.startswith("[") else shown
    return f"http://{shown}:{port}/"


def check_arguments(args: argparse.Namespace) -> None:
    """The argparse checks again, for callers that build the arguments by hand: nan passes `<= 0`, inf
    fails only later in int(), and port 99999 in getaddrinfo, each with a message naming no option."""
    for option, (parse, attribute) in CHECKED_OPTIONS.items():
        try:
            parse(str(getattr(args, attribute)))
        except argparse.ArgumentTypeError as error:
            raise ValueError(f"{option}: {error}") from None


def build_app(args: argparse.Namespace) -> "FastAPI":
    """The app for parsed `serve` arguments; ValueError / CheckpointError with a readable message."""
    from ..priors.options import prior_set_from_arguments
    from ..scanning import Scanner
    from ..segmentation.mask_source import mask_source_from_arguments
    from .app import create_app

    check_arguments(args)
    scanner = Scanner(args.model, prior_set=prior_set_from_arguments(args), fusion=args.fusion)
    scanner.segmentation = mask_source_from_arguments(args, scanner.model)
    allowed_hosts = list(LOOPBACK_NAMES) if is_loopback(args.host) else None
    return create_app(
        scanner,
        max_upload_bytes=round(args.max_upload_mb * 1e6),
        max_pixels=round(args.max_megapixels * 1e6),  # round: 0.000256 * 1e6 must stay 256 (16x16)
        allowed_hosts=allowed_hosts,
    )


def run_serve(args: argparse.Namespace) -> int:
    """Build the scanner, bind the port and serve until Ctrl+C; exit status like the other commands."""
    try:
        import uvicorn
    except ImportError:
        print("privobf: error: `privobf serve` needs the serve extra: pip install 'privobf[serve]'", file=sys.stderr)
        return EXIT_USAGE
    try:
        app = build_app(args)
    except (ImportError, KeyError, ValueError, OSError) as error:
        # KeyError's str() is the repr of its message, quotes included; stripping quotes would also cut the
        # closing one of a message ending "got 'nan'".
        message = str(error.args[0]) if isinstance(error, KeyError) and error.args else str(error)
        print(f"privobf: error: {message}", file=sys.stderr)
        return EXIT_USAGE
    try:
        sock = bind_socket(args.host, args.port)
    except OSError as error:  # socket.gaierror included: a host name that does not resolve
        print(f"privobf: error: {listen_error_message(args.host, args.port, error)}", file=sys.stderr)
        return EXIT_USAGE
    if not is_loopback(args.host):
        print(f"privobf: warning: listening on {args.host}: anyone on your network can upload photos to this "
              "page; use --host 127.0.0.1 to keep it to this computer", file=sys.stderr)
    print(f"privobf: open {page_url(args.host, sock.getsockname()[1])} in your browser (Ctrl+C to stop)", file=sys.stderr)
    config = uvicorn.Config(app, log_level="warning", access_log=False, server_header=False)
    try:
        uvicorn.Server(config).run(sockets=[sock])
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()
    return EXIT_OK
