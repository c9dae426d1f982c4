"""Languages this machine can run: discovery, versions and compile/run recipes.

Each language is looked up on ``PATH`` (the caller's) when it is first needed, its
version asked once, and the result cached per process — and, given a
:class:`~un_async.backends.local.probe_cache.ProbeCache`, on disk between processes. A
toolchain knows the host paths the sandbox must expose read-only (an interpreter's prefix
outside ``/usr``, such as pyenv's or rustup's — never a whole home directory), the
variables it needs, and how to turn a source file into a compile step (optional) and a
run step. Identifiers are the service's (``bash``, ``cpp``).

Variables set for a language (besides ``PATH``, ``HOME``, ``LANG``, ``LC_ALL``,
``TMPDIR``): python ``PYTHONUNBUFFERED=1`` (partial output survives a kill) and
``PYTHONDONTWRITEBYTECODE=1`` (no ``__pycache__`` among the artifacts); go ``GOCACHE``,
``GOPATH`` (in the build directory), ``GOTOOLCHAIN=local``, ``CGO_ENABLED=0``,
``GOMAXPROCS``.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import attrs

from un_async.backends.local.host import exposes_home
from un_async.backends.local.limits import MemoryPolicy
from un_async.backends.local.probe_cache import ProbeCache

__all__ = [
    "INSTALL_HINTS",
    "LANGUAGES",
    "SEARCHED_NAMES",
    "Discovery",
    "Plan",
    "Toolchain",
    "discover_toolchains",
    "resolve_toolchain",
    "world_reachable",
]

PROBE_TIMEOUT = 20.0
_SYSTEM_ROOTS = ("/usr/", "/bin/", "/sbin/", "/lib/", "/lib64/", "/etc/")

INSTALL_HINTS: Mapping[str, str] = {
    "python": "install Python 3 (python3 on PATH; Debian: apt-get install python3)",
    "bash": "install bash (Debian: apt-get install bash)",
    "javascript": "install Node.js (node on PATH; Debian: apt-get install nodejs)",
    "typescript": "install tsc or tsx (npm install -g typescript), or Node.js 22.6 or later",
    "c": "install a C compiler (gcc or cc on PATH; Debian: apt-get install gcc)",
    "cpp": "install a C++ compiler (g++ or c++ on PATH; Debian: apt-get install g++)",
    "rust": "install rustc (https://rustup.rs) and a C linker (cc, e.g. apt-get install gcc)",
    "java": "install a JDK (javac and java on PATH; Debian: apt-get install default-jdk-headless)",
    "perl": "install perl (Debian: apt-get install perl)",
    "go": "install Go (go on PATH; Debian: apt-get install golang-go)",
    "ruby": "install Ruby (ruby on PATH; Debian: apt-get install ruby)",
    "php": "install PHP (php on PATH; Debian: apt-get install php-cli)",
    "lua": "install Lua (lua on PATH; Debian: apt-get install lua5.4)",
}
"""What to install for each language the local backend knows."""


@attrs.frozen(kw_only=True)
class Plan:
    """The steps of one execution: an optional compile step, then the run step."""

    compile: tuple[str, ...] | None
    run: tuple[str, ...]


@attrs.frozen(kw_only=True)
class Toolchain:
    """One runnable language: its tools (absolute paths), version and needs."""

    language: str
    version: str
    tools: Mapping[str, str]
    extension: str
    origin: str = ""
    """The ``PATH`` entry it was found through (its directory is skipped when the
    toolchain turns out unusable and another one is searched for)."""
    binds: tuple[str, ...] = ()
    path_dirs: tuple[str, ...] = ()
    env: Mapping[str, str] = attrs.field(factory=dict)
    """Variables the language needs; ``{build}`` and ``{vcpu}`` are filled in per run."""
    memory: MemoryPolicy = MemoryPolicy.ADDRESS_SPACE
    oom_markers: tuple[str, ...] = ()
    from_cache: bool = attrs.field(default=False, eq=False, repr=False)
    """Taken from the disk cache, not looked up by this process."""

    def source_name(self, code: str) -> str:
        """The file name the source is saved under (Java: its public class's name)."""
        if self.language == "java":
            return f"{java_class_name(code)}.java"
        return f"main{self.extension}"

    def plan(self, *, source: str, build: str, workdir: str, memory_mb: int, vcpu: int) -> Plan:
        """The argv of each step for ``source`` (absolute), building into ``build``."""
        return _PLANS[self.language](self, source, build, workdir, memory_mb, vcpu)

    @property
    def compiled(self) -> bool:
        """True when the language has a compile step (and needs a build directory)."""
        plan = self.plan(source="/s/main", build="/b", workdir="/s", memory_mb=64, vcpu=1)
        return plan.compile is not None

    def describe(self) -> str:
        """``"<version> (<main tool>)"`` for diagnostics."""
        main = self.tools.get("compiler") or self.tools.get("interpreter") or ""
        return f"{self.version} ({main})" if main else self.version


_JAVA_CLASS = re.compile(
    r"\bpublic\s+(?:(?:final|abstract|sealed|strictfp)\s+)*class\s+([A-Za-z_$][\w$]*)"
)


def java_class_name(code: str) -> str:
    """The public class a Java source declares (``Main`` when it declares none)."""
    found = _JAVA_CLASS.search(code)
    return found.group(1) if found else "Main"


# -- recipes ---------------------------------------------------------------------------------

PlanBuilder = Callable[[Toolchain, str, str, str, int, int], Plan]


def _interpreted(*flags: str) -> PlanBuilder:
    def plan(chain: Toolchain, source: str, build: str, workdir: str, mb: int, vcpu: int) -> Plan:
        return Plan(compile=None, run=(chain.tools["interpreter"], *flags, source))

    return plan


def _node(chain: Toolchain, source: str, build: str, workdir: str, mb: int, vcpu: int) -> Plan:
    return Plan(
        compile=None, run=(chain.tools["interpreter"], f"--max-old-space-size={mb}", source)
    )


def _typescript(
    chain: Toolchain, source: str, build: str, workdir: str, mb: int, vcpu: int
) -> Plan:
    node, heap = chain.tools["interpreter"], f"--max-old-space-size={mb}"
    if "tsc" in chain.tools:
        compile_argv = (
            chain.tools["tsc"],
            "--outDir",
            build,
            "--target",
            "es2022",
            "--module",
            "commonjs",
            "--skipLibCheck",
            source,
        )
        output = str(Path(build) / (Path(source).stem + ".js"))
        return Plan(compile=compile_argv, run=(node, heap, output))
    if "tsx" in chain.tools:
        return Plan(compile=None, run=(node, heap, chain.tools["tsx"], source))
    strip = ("--experimental-strip-types", "--disable-warning=ExperimentalWarning")
    return Plan(compile=None, run=(node, heap, *strip, source))


def _native(*flags: str) -> PlanBuilder:
    def plan(chain: Toolchain, source: str, build: str, workdir: str, mb: int, vcpu: int) -> Plan:
        binary = str(Path(build) / "program")
        return Plan(compile=(chain.tools["compiler"], *flags, "-o", binary, source), run=(binary,))

    return plan


def _c_family(*flags: str) -> PlanBuilder:
    def plan(chain: Toolchain, source: str, build: str, workdir: str, mb: int, vcpu: int) -> Plan:
        binary = str(Path(build) / "program")
        compile_argv = (chain.tools["compiler"], *flags, "-o", binary, source, "-lm")
        return Plan(compile=compile_argv, run=(binary,))

    return plan


def _java_plan(chain: Toolchain, source: str, build: str, workdir: str, mb: int, vcpu: int) -> Plan:
    jvm = ("-XX:+UseSerialGC", f"-XX:ActiveProcessorCount={vcpu}", "-XX:-UsePerfData")
    compile_argv = (
        chain.tools["compiler"],
        f"-J-Xmx{max(mb, 512)}m",
        "-J-XX:TieredStopAtLevel=1",
        *(f"-J{flag}" for flag in jvm),
        "-encoding",
        "UTF-8",
        "-sourcepath",
        workdir,
        "-d",
        build,
        source,
    )
    run = (chain.tools["runtime"], f"-Xmx{mb}m", *jvm, "-cp", build, Path(source).stem)
    return Plan(compile=compile_argv, run=run)


def _go(chain: Toolchain, source: str, build: str, workdir: str, mb: int, vcpu: int) -> Plan:
    binary = str(Path(build) / "program")
    return Plan(compile=(chain.tools["compiler"], "build", "-o", binary, source), run=(binary,))


_PLANS: dict[str, PlanBuilder] = {
    "python": _interpreted(),
    "bash": _interpreted(),
    "perl": _interpreted(),
    "ruby": _interpreted(),
    "php": _interpreted(),
    "lua": _interpreted(),
    "javascript": _node,
    "typescript": _typescript,
    "c": _c_family("-O2"),
    "cpp": _c_family("-O2"),
    "rust": _native("-O", "--edition", "2021", "-C", "codegen-units=1"),
    "java": _java_plan,
    "go": _go,
}


# -- discovery -------------------------------------------------------------------------------


def _output(argv: list[str], environ: Mapping[str, str]) -> str | None:
    """The stripped stdout (else stderr) of a version probe, or None when it failed."""
    try:
        done = subprocess.run(  # noqa: S603 - argv[0] is an absolute path found on PATH
            argv,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=PROBE_TIMEOUT,
            env=dict(environ),
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if done.returncode != 0:
        return None
    return (done.stdout.strip() or done.stderr.strip()) or None


def _find(names: tuple[str, ...], environ: Mapping[str, str]) -> str | None:
    path = environ.get("PATH", os.defpath)
    for name in names:
        found = shutil.which(name, path=path)
        if found:
            return os.path.abspath(found)
    return None


def _prefixes(*paths: str) -> tuple[str, ...]:
    """The install prefixes of ``paths`` (and of what they resolve to) outside the system
    directories: ``/opt/x/bin/tool`` → ``/opt/x``. System paths need no bind."""
    found: list[str] = []
    for path in paths:
        for candidate in (path, os.path.realpath(path)):
            if candidate.startswith(_SYSTEM_ROOTS):
                continue
            parent = Path(candidate).parent
            prefix = str(parent.parent if parent.name == "bin" else parent)
            if prefix not in found and prefix != "/":
                found.append(prefix)
    return tuple(found)


def _bin_dirs(*paths: str) -> tuple[str, ...]:
    dirs = [str(Path(path).parent) for path in paths if not path.startswith(_SYSTEM_ROOTS)]
    return tuple(dict.fromkeys(dirs))


def _version(pattern: str, text: str | None) -> str | None:
    if text is None:
        return None
    found = re.search(pattern, text)
    return found.group(1) if found else None


Finder = Callable[[Mapping[str, str]], Toolchain | None]


def _python(environ: Mapping[str, str]) -> Toolchain | None:
    found = _find(("python3", "python"), environ)
    if found is None:
        return None
    script = (
        "import sys, platform; "
        "print(sys.executable); print(sys.prefix); print(sys.base_prefix); "
        "print(platform.python_version()); print(sys.version_info[0])"
    )
    text = _output([found, "-I", "-c", script], environ)
    lines = text.splitlines() if text else []
    if len(lines) != 5 or lines[4] != "3" or not os.path.isabs(lines[0]):
        return None
    executable, prefix, base_prefix, version = lines[:4]
    binds = _prefixes(executable)
    binds += tuple(p for p in (prefix, base_prefix) if not p.startswith((*_SYSTEM_ROOTS, "/usr")))
    return Toolchain(
        language="python",
        origin=found,
        version=version,
        tools={"interpreter": executable},
        extension=".py",
        binds=tuple(dict.fromkeys(binds)),
        path_dirs=_bin_dirs(executable),
        env={"PYTHONUNBUFFERED": "1", "PYTHONDONTWRITEBYTECODE": "1"},
        oom_markers=("\nMemoryError", "MemoryError\n"),
    )


def _simple(
    language: str,
    names: tuple[str, ...],
    version_argv: tuple[str, ...],
    pattern: str,
    extension: str,
    *,
    oom: tuple[str, ...] = (),
) -> Finder:
    def find(environ: Mapping[str, str]) -> Toolchain | None:
        found = _find(names, environ)
        if found is None:
            return None
        version = _version(pattern, _output([found, *version_argv], environ))
        if version is None:
            return None
        return Toolchain(
            language=language,
            origin=found,
            version=version,
            tools={"interpreter": found},
            extension=extension,
            binds=_prefixes(found),
            path_dirs=_bin_dirs(found),
            oom_markers=oom,
        )

    return find


def _node_chain(environ: Mapping[str, str]) -> Toolchain | None:
    found = _find(("node", "nodejs"), environ)
    version = (
        _version(r"v?(\d+\.\d+\.\d+)", _output([found, "--version"], environ)) if found else None
    )
    if found is None or version is None:
        return None
    return Toolchain(
        language="javascript",
        origin=found,
        version=version,
        tools={"interpreter": found},
        extension=".js",
        binds=_prefixes(found),
        path_dirs=_bin_dirs(found),
        memory=MemoryPolicy.HEADROOM,
        oom_markers=("JavaScript heap out of memory", "Fatal process out of memory"),
    )


def _typescript_chain(environ: Mapping[str, str], node: Toolchain | None) -> Toolchain | None:
    if node is None:
        return None
    tools = dict(node.tools)
    for tool in ("tsc", "tsx"):
        found = _find((tool,), environ)
        if found is not None:
            version = _version(r"(\d+\.\d+\.\d+)", _output([found, "--version"], environ))
            if version is not None:
                tools[tool] = found
                paths = (found, os.path.realpath(found))
                binds = node.binds + tuple(
                    str(Path(p).parent.parent) for p in paths if not p.startswith(_SYSTEM_ROOTS)
                )
                return attrs.evolve(
                    node,
                    language="typescript",
                    version=f"{tool} {version}",
                    tools=tools,
                    extension=".ts",
                    binds=tuple(dict.fromkeys(binds)),
                )
    major, minor = (int(part) for part in node.version.split(".")[:2])
    if (major, minor) >= (22, 6):
        return attrs.evolve(node, language="typescript", extension=".ts")
    return None


def _c_chain(language: str, names: tuple[str, ...], extension: str) -> Finder:
    def find(environ: Mapping[str, str]) -> Toolchain | None:
        found = _find(names, environ)
        if found is None:
            return None
        version = _version(r"(\d+(?:\.\d+)*)", _output([found, "-dumpfullversion"], environ))
        version = version or _version(r"(\d+(?:\.\d+)+)", _output([found, "--version"], environ))
        if version is None:
            return None
        oom = ("std::bad_alloc",) if language == "cpp" else ()
        return Toolchain(
            language=language,
            origin=found,
            version=version,
            tools={"compiler": found},
            extension=extension,
            binds=_prefixes(found),
            oom_markers=oom,
        )

    return find


def _rust(environ: Mapping[str, str]) -> Toolchain | None:
    found = _find(("rustc",), environ)
    linker = _find(("cc", "gcc"), environ)
    if found is None or linker is None:
        return None
    proxy_home = Path(found).parent.parent.parent / ".rustup"
    if Path(found).parent.parent.name == ".cargo" and proxy_home.is_dir():
        # rustup's proxy finds its toolchains through RUSTUP_HOME (default ~/.rustup):
        # when HOME is elsewhere, use the .rustup next to the .cargo it was found in.
        environ = {"RUSTUP_HOME": str(proxy_home), **environ}
    version = _version(r"rustc (\d+\.\d+\.\d+)", _output([found, "--version"], environ))
    sysroot = _output([found, "--print", "sysroot"], environ)
    if version is None or sysroot is None:
        return None
    # rustup's proxy needs the user's home; the toolchain's own rustc does not.
    direct = Path(sysroot) / "bin" / "rustc"
    compiler = str(direct) if direct.is_file() else found
    binds = () if sysroot.startswith(_SYSTEM_ROOTS) else (sysroot,)
    return Toolchain(
        language="rust",
        origin=found,
        version=version,
        tools={"compiler": compiler},
        extension=".rs",
        binds=tuple(dict.fromkeys(binds + _prefixes(compiler))),
        oom_markers=("memory allocation of",),
    )


def _java_version(home: Path, javac: str, environ: Mapping[str, str]) -> str | None:
    try:
        release = (home / "release").read_text(errors="replace")
    except OSError:
        release = ""
    found = _version(r'JAVA_VERSION="([^"]+)"', release)
    return found or _version(r"javac (\S+)", _output([javac, "-version"], environ))


def _java_chain(environ: Mapping[str, str]) -> Toolchain | None:
    javac = _find(("javac",), environ)
    if javac is None:
        return None
    home = Path(os.path.realpath(javac)).parent.parent
    runtime = str(home / "bin" / "java") if (home / "bin" / "java").is_file() else None
    runtime = runtime or _find(("java",), environ)
    version = _java_version(home, javac, environ)
    if runtime is None or version is None:
        return None
    return Toolchain(
        language="java",
        origin=javac,
        version=version,
        tools={"compiler": os.path.realpath(javac), "runtime": runtime},
        extension=".java",
        binds=_prefixes(javac, runtime),
        memory=MemoryPolicy.RUNTIME,
        oom_markers=("java.lang.OutOfMemoryError",),
    )


def _go_chain(environ: Mapping[str, str]) -> Toolchain | None:
    found = _find(("go",), environ)
    text = _output([found, "env", "GOROOT", "GOVERSION"], environ) if found else None
    lines = text.splitlines() if text else []
    if found is None or len(lines) != 2:
        return None
    root, version = lines
    binds = () if root.startswith(_SYSTEM_ROOTS) else (root,)
    return Toolchain(
        language="go",
        origin=found,
        version=version.removeprefix("go"),
        tools={"compiler": found},
        extension=".go",
        binds=tuple(dict.fromkeys(binds + _prefixes(found))),
        memory=MemoryPolicy.HEADROOM,
        env={
            "GOTOOLCHAIN": "local",
            "CGO_ENABLED": "0",
            "GOCACHE": "{build}/go-cache",
            "GOPATH": "{build}/go-path",
            "GOMAXPROCS": "{vcpu}",
        },
        oom_markers=("runtime: out of memory",),
    )


def _lua(environ: Mapping[str, str]) -> Toolchain | None:
    found = _find(_LUA_NAMES, environ)
    if found is None:
        return None
    try:
        done = subprocess.run(  # noqa: S603 - an absolute path found on PATH
            [found, "-v"],
            capture_output=True,
            text=True,
            timeout=PROBE_TIMEOUT,
            env=dict(environ),
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    version = _version(r"(?:Lua|LuaJIT) (\d+\.\d+(?:\.\d+)?)", done.stdout + done.stderr)
    if version is None:
        return None
    return Toolchain(
        language="lua",
        origin=found,
        version=version,
        tools={"interpreter": found},
        extension=".lua",
        binds=_prefixes(found),
        path_dirs=_bin_dirs(found),
        oom_markers=("not enough memory",),
    )


_FINDERS: dict[str, Finder] = {
    "python": _python,
    "bash": _simple("bash", ("bash",), ("-c", "echo $BASH_VERSION"), r"(\d+\.\d+\.\d+)", ".sh"),
    "javascript": _node_chain,
    "c": _c_chain("c", ("gcc", "cc"), ".c"),
    "cpp": _c_chain("cpp", ("g++", "c++"), ".cpp"),
    "rust": _rust,
    "java": _java_chain,
    "perl": _simple(
        "perl", ("perl",), ("-e", "print $^V"), r"v?(\d+\.\d+\.\d+)", ".pl", oom=("Out of memory",)
    ),
    "go": _go_chain,
    "ruby": _simple(
        "ruby",
        ("ruby",),
        ("-e", "print RUBY_VERSION"),
        r"(\d+\.\d+\.\d+)",
        ".rb",
        oom=("failed to allocate memory", "NoMemoryError"),
    ),
    "php": _simple(
        "php",
        ("php",),
        ("-r", "echo PHP_VERSION;"),
        r"(\d+\.\d+\.\d+)",
        ".php",
        oom=("Allowed memory size", "Out of memory"),
    ),
    "lua": _lua,
}

_LUA_NAMES = ("lua", "lua5.4", "lua5.3", "lua5.2", "lua5.1", "luajit")

SEARCHED_NAMES: Mapping[str, tuple[str, ...]] = {
    "python": ("python3", "python"),
    "bash": ("bash",),
    "javascript": ("node", "nodejs"),
    "typescript": ("node", "nodejs", "tsc", "tsx"),
    "c": ("gcc", "cc"),
    "cpp": ("g++", "c++"),
    "rust": ("rustc", "cc", "gcc"),
    "java": ("javac", "java"),
    "perl": ("perl",),
    "go": ("go",),
    "ruby": ("ruby",),
    "php": ("php",),
    "lua": _LUA_NAMES,
}
"""Every program name each language is looked up by on ``PATH`` (part of the key its
cached answer is stored under)."""

LANGUAGES = tuple(SEARCHED_NAMES)
"""The languages the local backend knows (service identifiers)."""


def world_reachable(path: str, *, directory: bool = False) -> bool:
    """True when a user with no relation to the owner can reach ``path``: every
    ancestor directory searchable by others, the path itself executable by others
    (a directory: also readable)."""
    real = Path(os.path.realpath(path))
    try:
        for parent in real.parents:
            if not os.stat(parent).st_mode & stat.S_IXOTH:
                return False
        mode = os.stat(real).st_mode
    except OSError:
        return False
    needed = stat.S_IXOTH | (stat.S_IROTH if directory else 0)
    return mode & needed == needed


def _reachable(chain: Toolchain) -> bool:
    return all(world_reachable(tool) for tool in chain.tools.values()) and all(
        world_reachable(path, directory=True) for path in chain.binds
    )


@attrs.frozen
class Discovery:
    """The toolchains found, and for languages found but not usable, why."""

    toolchains: Mapping[str, Toolchain]
    unusable: Mapping[str, str]


def _search(
    language: str, find: Finder, environ: Mapping[str, str], world: bool
) -> tuple[Toolchain | None, str | None]:
    """Find ``language``; with ``world``, skip toolchains an unprivileged uid cannot
    reach (private home directories) and look further along ``PATH``."""
    skipped: list[str] = []
    search = dict(environ)
    for _ in range(8):
        chain = find(search)
        if chain is None:
            break
        if not world or _reachable(chain):
            return chain, None
        skipped.append(chain.describe())
        directory = str(Path(chain.origin).parent)
        entries = search.get("PATH", "").split(":")
        search["PATH"] = ":".join(entry for entry in entries if entry.rstrip("/") != directory)
    if skipped:
        return None, (
            f"found {', '.join(skipped)}, but executions run as an unprivileged uid that"
            " cannot reach it (it lies in a private directory such as a home directory);"
            " install it system-wide or use the bubblewrap or namespaces isolation level"
        )
    return None, None


KIND = "toolchains"
"""The probe cache's kind for toolchain answers."""


def _to_json(chain: Toolchain | None, unusable: str | None) -> dict[str, Any]:
    data = None
    if chain is not None:
        data = attrs.asdict(chain, recurse=False, filter=lambda item, _: item.name != "from_cache")
        data.update(
            tools=dict(chain.tools),
            env=dict(chain.env),
            binds=list(chain.binds),
            path_dirs=list(chain.path_dirs),
            oom_markers=list(chain.oom_markers),
            memory=chain.memory.value,
        )
    return {"toolchain": data, "unusable": unusable}


def _strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def _string_map(value: Any) -> bool:
    return isinstance(value, dict) and all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    )


def _from_json(
    language: str, value: Mapping[str, Any]
) -> tuple[Toolchain | None, str | None] | None:
    """The cached answer, or None when it is malformed or its files are gone."""
    data, unusable = value.get("toolchain"), value.get("unusable")
    if unusable is not None and not isinstance(unusable, str):
        return None
    if data is None:
        return None, unusable
    try:
        chain = Toolchain(
            language=data["language"],
            version=data["version"],
            tools=data["tools"],
            extension=data["extension"],
            origin=data["origin"],
            binds=tuple(data["binds"]),
            path_dirs=tuple(data["path_dirs"]),
            env=data["env"],
            memory=MemoryPolicy(data["memory"]),
            oom_markers=tuple(data["oom_markers"]),
            from_cache=True,
        )
    except (KeyError, TypeError, ValueError):
        return None
    shapes = (
        isinstance(chain.version, str),
        isinstance(chain.extension, str),
        isinstance(chain.origin, str),
        _string_map(chain.tools),
        _string_map(chain.env),
        _strings(data["binds"]),
        _strings(data["path_dirs"]),
        _strings(data["oom_markers"]),
    )
    if chain.language != language or not all(shapes):
        return None
    tools_present = all(os.access(tool, os.X_OK) for tool in chain.tools.values())
    if not tools_present or not all(os.path.isdir(path) for path in chain.binds):
        return None
    return chain, unusable


def _resolve(
    language: str, environ: Mapping[str, str], world: bool, cache: ProbeCache | None
) -> tuple[Toolchain | None, str | None]:
    if language == "typescript":
        node, _ = resolve_toolchain("javascript", environ, world=world, cache=cache)
        typescript = _typescript_chain(environ, node)
        if typescript is not None and world and not _reachable(typescript):
            typescript = None
        return _without_homes(typescript, environ), None
    chain, unusable = _search(language, _FINDERS[language], environ, world)
    return _without_homes(chain, environ), unusable


def _without_homes(chain: Toolchain | None, environ: Mapping[str, str]) -> Toolchain | None:
    """``chain`` with each bind that is, or contains, a home directory (``~/bin/tool``'s
    prefix is ``~``; see :func:`~un_async.backends.local.host.exposes_home`) replaced by
    the directories of the tools inside it — or dropped when those are such paths too."""
    if chain is None:
        return None
    home = os.path.realpath(environ["HOME"]) if environ.get("HOME") else None
    binds: list[str] = []
    for path in chain.binds:
        if not exposes_home(path, home):
            binds.append(path)
            continue
        for tool in chain.tools.values():
            directory = os.path.dirname(tool)
            inside = directory == path or directory.startswith(f"{path.rstrip('/')}/")
            if inside and not exposes_home(directory, home):
                binds.append(directory)
    if binds == list(chain.binds):
        return chain
    return attrs.evolve(chain, binds=tuple(dict.fromkeys(binds)))


def _resolve_cached(
    language: str, environ: Mapping[str, str], world: bool, cache: ProbeCache, refresh: bool
) -> tuple[Toolchain | None, str | None]:
    from un_async.backends.local.fingerprints import toolchain_key

    key = toolchain_key(language, SEARCHED_NAMES[language], environ, world=world)
    if not refresh:
        value = cache.load(KIND, key)
        found = _from_json(language, value) if value is not None else None
        if found is not None:
            return found
    found = _resolve(language, environ, world, cache)
    cache.store(KIND, key, _to_json(*found))
    return found


_cache: dict[tuple[str, str, bool], tuple[Toolchain | None, str | None]] = {}
_cache_lock = threading.Lock()


def resolve_toolchain(
    language: str,
    environ: Mapping[str, str],
    *,
    world: bool = False,
    cache: ProbeCache | None = None,
    refresh: bool = False,
) -> tuple[Toolchain | None, str | None]:
    """``(toolchain, None)`` for ``language`` on ``environ``'s ``PATH``; ``(None, why)``
    when one was found but cannot be used; ``(None, None)`` when there is none.

    ``language`` is one of :data:`LANGUAGES`. ``world``: executions run as an
    unprivileged uid that sees the host filesystem, so only toolchains every user can
    reach count. Looked up once per ``PATH`` per process; with ``cache``, first on disk
    (under :func:`~un_async.backends.local.fingerprints.toolchain_key`), storing what was
    probed. ``refresh``: probe now whatever is known. Blocking: call it in a worker thread.
    """
    memo = (language, environ.get("PATH", os.defpath), world)
    if not refresh:
        with _cache_lock:
            known = _cache.get(memo)
        if known is not None:
            return known
    if cache is None:
        found = _resolve(language, environ, world, None)
    else:
        found = _resolve_cached(language, environ, world, cache, refresh)
    with _cache_lock:
        if refresh:
            _cache[memo] = found
        return _cache.setdefault(memo, found)


def discover_toolchains(
    environ: Mapping[str, str],
    *,
    world: bool = False,
    cache: ProbeCache | None = None,
    refresh: bool = False,
) -> Discovery:
    """Every runnable language on ``environ``'s ``PATH``, by service identifier (see
    :func:`resolve_toolchain`; the languages are looked up in parallel, TypeScript after
    JavaScript, whose Node.js it uses)."""
    with ThreadPoolExecutor(max_workers=4, thread_name_prefix="un-async-probe") as pool:
        futures = {
            name: pool.submit(
                resolve_toolchain, name, environ, world=world, cache=cache, refresh=refresh
            )
            for name in LANGUAGES
            if name != "typescript"
        }
        found = {name: future.result() for name, future in futures.items()}
    found["typescript"] = resolve_toolchain(
        "typescript", environ, world=world, cache=cache, refresh=refresh
    )
    return Discovery(
        toolchains={name: pair[0] for name, pair in sorted(found.items()) if pair[0]},
        unusable={name: pair[1] for name, pair in sorted(found.items()) if pair[1]},
    )
