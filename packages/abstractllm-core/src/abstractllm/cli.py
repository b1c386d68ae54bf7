"""The ``abstractllm`` command: generate, chat, plugins, models.

A user error prints one line (``abstractllm: error: ...``) on stderr and exits with
status 2; no traceback. ``--debug`` shows tracebacks and debug logs. When the reader of
standard output goes away (``abstractllm generate ... | head -c 1``) the command stops
quietly with status 141 (128 + SIGPIPE), as Unix tools do. ``python -m abstractllm`` runs it too.
"""

from __future__ import annotations

import argparse
import ast
import json
import logging
import re
import sys
import time
from collections.abc import Sequence
from typing import Any, TextIO

from abstractllm.errors import AbstractLLMError, InvalidArgumentError

__all__ = ["main"]


def _value(name: str, text: str) -> Any:
    """``-o NAME VALUE``: a Python/JSON literal when it parses (0.5, 12, true, [..]), else the string;
    ``InvalidArgumentError`` for a literal nested too deeply to read."""
    lowered = {"true": True, "false": False, "null": None, "none": None}
    if text.lower() in lowered:
        return lowered[text.lower()]
    for parse in (json.loads, ast.literal_eval):
        try:
            return parse(text)
        except (ValueError, SyntaxError):
            continue
        except (RecursionError, MemoryError) as exc:  # e.g. '[[[...' nested 100,000 deep
            raise InvalidArgumentError(
                f"-o {name}: the value is nested too deeply to read ({type(exc).__name__}); pass a flatter value",
                parameter=name,
                value=f"{text[:20]}... ({len(text)} characters)",
                allowed="a JSON or Python literal of ordinary depth, or plain text",
            ) from exc
    return text


def _model_config(args: argparse.Namespace) -> dict[str, Any]:
    config: dict[str, Any] = {}
    for name in ("model", "model_path", "model_type"):
        value = getattr(args, name)
        if value is not None:
            config[name] = value
    for name, value in args.option or []:
        config[name] = _value(name, value)
    return config


def _create(args: argparse.Namespace) -> Any:
    """Create the model. On a terminal, say what is loading and how long it took (the backends
    draw download bars only on a terminal); when stderr is piped, stay quiet."""
    from abstractllm._private.factory import create_llm

    config = _model_config(args)
    generation = {k: config.pop(k) for k in list(config) if k in _generation_names()}
    terminal = sys.stderr.isatty()
    label = config.get("model") or config.get("model_path") or args.provider
    if terminal:
        sys.stderr.write(f"loading {label} ...")
        sys.stderr.flush()
    started = time.perf_counter()
    try:
        llm = create_llm(args.provider, **config)
    finally:
        if terminal:
            sys.stderr.write("\r\033[K")
    if terminal:
        sys.stderr.write(f"loaded {label} ({llm.mode}) in {time.perf_counter() - started:.1f}s\n")
    return llm, generation


#: Keywords of ``generate`` that are not generation options; ``-o NAME VALUE`` passes them to the call.
_CALL_KEYWORDS = {"raw", "response_format", "tool_choice"}


def _generation_names() -> set[str]:
    from abstractllm.options import GENERATION_OPTIONS

    return {*GENERATION_OPTIONS, *_CALL_KEYWORDS}


#: The command's flags for ``create_llm`` keywords; any other keyword is ``-o NAME VALUE``.
_FLAGS = {"model": "--model", "model_path": "--model-path", "model_type": "--model-type", "system_prompt": "--system"}


def _cli_terms(message: str) -> str:
    """``message`` with Python's spelling of parameters (``model_path='x'``, ``'top_k'``,
    ``create_llm(...)``) replaced by the command's (``--model-path 'x'``, ``-o top_k``)."""
    known = _parameter_names()

    def flag(name: str) -> str:
        return _FLAGS.get(name, f"-o {name}")

    message = re.sub(r"create_llm\('[\w-]+'\) in mode '([\w-]+)'", r"the \1 mode", message)
    message = re.sub(r"create_llm\([^)]*\)", "abstractllm", message)
    message = re.sub(r"(?<![\w./-])([a-z][a-z0-9_]*)= ?", lambda m: flag(m[1]) + " " if m[1] in known else m[0], message)
    message = re.sub(r"'([a-z][a-z0-9_]*)'", lambda m: flag(m[1]) if m[1] in known else m[0], message)
    message = re.sub(r"unknown parameter '(\w+)'", r"unknown option -o \1", message)
    return message.replace(
        "Known parameters:", "Known parameters (--model, --model-path, --model-type, --system, or -o NAME VALUE):"
    )


def _parameter_names() -> set[str]:
    from abstractllm._private.plugins import get_plugins
    from abstractllm.options import COMMON_OPTIONS, GENERATION_OPTIONS

    names = {*COMMON_OPTIONS, *GENERATION_OPTIONS, *_CALL_KEYWORDS, *_FLAGS}
    for backend in get_plugins().backends.values():
        names.update(backend.info.load_options, backend.info.generation_options)
    return names


def _cmd_generate(args: argparse.Namespace, out: TextIO) -> int:
    prompt = args.prompt if args.prompt is not None else sys.stdin.read()
    if not prompt.strip():
        raise AbstractLLMError("no prompt: pass it as an argument or on standard input")
    llm, params = _create(args)
    if args.raw:
        params["raw"] = True
    try:
        if args.stream:
            for chunk in llm.generate(prompt, system_prompt=args.system, stream=True, **params):
                out.write(str(chunk))
                out.flush()
            out.write("\n")
        else:
            out.write(str(llm.generate(prompt, system_prompt=args.system, **params)) + "\n")
    finally:
        llm.unload()
    return 0


_CHAT_HELP = "commands: /save PATH, /load PATH, /clear, /history, /quit"


def _cmd_chat(args: argparse.Namespace, out: TextIO) -> int:
    from abstractllm.session import Session

    llm, params = _create(args)
    session = Session(system_prompt=args.system, provider=llm)
    interactive = sys.stdin.isatty()
    out.write(f"Chatting with {llm.model} ({llm.mode}). {_CHAT_HELP}\n")
    out.flush()
    try:
        while True:
            if interactive:
                out.write("> ")
                out.flush()
            line = sys.stdin.readline()
            if not line:
                break
            line = line.strip()
            if not line:
                continue
            if line.startswith("/"):
                if not _chat_command(line, session, out):
                    break
                continue
            for chunk in session.generate(line, stream=True, **params):
                out.write(str(chunk))
                out.flush()
            out.write("\n")
            out.flush()
    finally:
        llm.unload()
    return 0


def _chat_command(line: str, session: Any, out: TextIO) -> bool:
    """Run a /command; returns False to quit."""
    command, _, argument = line.partition(" ")
    argument = argument.strip()
    if command in ("/quit", "/exit"):
        return False
    if command == "/clear":
        session.clear()
        out.write("history cleared\n")
    elif command == "/history":
        for message in session.get_history():
            out.write(f"{message.role}: {message.content}\n")
    elif command in ("/save", "/load"):
        if not argument:
            out.write(f"usage: {command} PATH\n")
        else:
            try:
                if command == "/save":
                    session.save(argument)
                    out.write(f"saved {len(session.messages)} messages to {argument}\n")
                else:
                    session.load(argument)
                    out.write(f"loaded {len(session.messages)} messages from {argument}\n")
            except AbstractLLMError as exc:
                out.write(f"error: {exc}\n")
    else:
        out.write(f"unknown command {command}; {_CHAT_HELP}\n")
    out.flush()
    return True


def _cmd_plugins(args: argparse.Namespace, out: TextIO) -> int:
    from abstractllm._private.plugins import get_plugins

    plugins = get_plugins()
    report: dict[str, Any] = {"backends": [], "broken": []}
    for (provider, mode), backend in sorted(plugins.backends.items()):
        report["backends"].append(
            {
                "provider": provider,
                "mode": mode,
                "distribution": backend.distribution,
                "version": backend.version,
                "description": backend.info.description,
                "options": sorted(backend.info.load_options),
            }
        )
    for broken in plugins.broken:
        report["broken"].append({"plugin": broken.name, "distribution": broken.distribution, "error": broken.error})
    if args.json:
        out.write(json.dumps(report, indent=2) + "\n")
        return 0
    for entry in report["backends"]:
        out.write(f"{entry['provider']}/{entry['mode']}  {entry['distribution']} {entry['version']}  {entry['description']}\n")
    for entry in report["broken"]:
        out.write(f"BROKEN {entry['plugin']} ({entry['distribution']}): {entry['error']}\n")
    if not report["backends"]:
        from abstractllm._private.install_hint import install_line
        from abstractllm.providers.huggingface_modes import MODE_DISTRIBUTIONS

        backends = sorted(set(MODE_DISTRIBUTIONS.values()))
        out.write(f"no backends installed; try: {install_line(*backends)}\n")
    return 0


def _cmd_models(args: argparse.Namespace, out: TextIO) -> int:
    from abstractllm.providers.huggingface import HuggingFaceProvider

    models = HuggingFaceProvider.list_cached_models(args.cache_dir)
    if args.json:
        out.write(json.dumps(models, indent=2, default=str) + "\n")
        return 0
    for model in models:
        out.write(f"{model['name']}  {model['size'] / 1e6:.1f} MB  modes: {', '.join(model['modes']) or '-'}\n")
    if not models:
        out.write(f"no models in {args.cache_dir or HuggingFaceProvider.default_cache_dir()}\n")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="abstractllm", description="Run HuggingFace models through one interface.")
    parser.add_argument("--debug", action="store_true", help="show debug logs and tracebacks")
    commands = parser.add_subparsers(dest="command", required=True)

    def model_arguments(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--provider", default="huggingface", help="default: huggingface")
        sub.add_argument("--model", help="hub id (org/name) or local folder")
        sub.add_argument("--model-path", dest="model_path", help="local model folder or .gguf file")
        sub.add_argument(
            "--model-type", dest="model_type", help="pipeline, gguf, api or endpoint (default: picked from the model)"
        )
        sub.add_argument("--system", help="system prompt")
        sub.add_argument(
            "-o", "--option", nargs=2, action="append", metavar=("NAME", "VALUE"), help="any parameter, e.g. -o temperature 0"
        )

    generate = commands.add_parser("generate", help="generate one reply")
    generate.add_argument("prompt", nargs="?", help="the prompt (default: standard input)")
    generate.add_argument("--stream", action="store_true", help="print the reply as it is generated")
    generate.add_argument(
        "--raw", action="store_true", help="complete the prompt as plain text, without the chat template (= -o raw true)"
    )
    model_arguments(generate)
    chat = commands.add_parser(
        "chat",
        help="an interactive session with history",
        description=f"An interactive session with history: type a message, or one of the {_CHAT_HELP}.",
    )
    model_arguments(chat)
    plugins = commands.add_parser("plugins", help="installed backends and broken plugins")
    plugins.add_argument("--json", action="store_true")
    models = commands.add_parser("models", help="models in the local HuggingFace cache")
    models.add_argument("--cache-dir", dest="cache_dir")
    models.add_argument("--json", action="store_true")
    return parser


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """Run the command; returns the exit status. Run as the program (neither ``argv`` nor ``out``
    given), a command that loaded torch ends the process itself (:func:`_exit_without_teardown`)."""
    status = _main(argv, out)
    if argv is None and out is None:
        _exit_without_teardown(status)
    return status


def _exit_without_teardown(status: int) -> None:
    """End the process with ``status`` now when torch is loaded, skipping the interpreter's
    teardown of torch and transformers (1-2 s of freeing objects after the work is done: the
    end of ``generate``, ``/quit``). The exit handlers still run first (loaded models close,
    workers stop, logging flushes), then stdout and stderr are flushed. Without torch, or with
    another non-daemon thread still running, the normal exit follows instead."""
    import threading

    others = [t for t in threading.enumerate() if t is not threading.main_thread() and not t.daemon and t.is_alive()]
    if "torch" not in sys.modules or others:
        return
    import atexit
    import contextlib
    import os

    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe or stream: nothing more can be said
            stream.flush()
    os._exit(status)


def _main(argv: Sequence[str] | None, out: TextIO | None) -> int:
    args = _parser().parse_args(argv)
    out = out or sys.stdout
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.WARNING, stream=sys.stderr)
    handlers = {"generate": _cmd_generate, "chat": _cmd_chat, "plugins": _cmd_plugins, "models": _cmd_models}
    try:
        return handlers[args.command](args, out)
    except AbstractLLMError as exc:
        if args.debug:
            raise
        sys.stderr.write(f"abstractllm: error: {_cli_terms(str(exc))}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("\n")
        return 130
    except BrokenPipeError:
        return _reader_gone(out)


def _reader_gone(out: TextIO) -> int:
    """Standard output's reader went away: point it at the null device, so that the interpreter's
    last flush of what is still buffered cannot fail again, and return 128 + SIGPIPE (1 without SIGPIPE)."""
    import contextlib
    import os
    import signal

    with contextlib.suppress(OSError, ValueError):  # ValueError: an ``out`` without a file descriptor
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, out.fileno())
        finally:
            os.close(devnull)
    sigpipe = getattr(signal, "SIGPIPE", None)
    return 128 + int(sigpipe) if sigpipe is not None else 1


if __name__ == "__main__":
    sys.exit(main())
