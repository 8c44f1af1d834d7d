#!/usr/bin/env python3
"""A real single-node OpenSearch for owd's tests and users: fetch, start, stop, status.

    python scripts/opensearch_node.py fetch
    python scripts/opensearch_node.py start [--port 9200 | --port 0] [--workdir DIR] [--timeout 180]
    python scripts/opensearch_node.py status [--port 9200] [--workdir DIR]
    python scripts/opensearch_node.py stop [--port 9200] [--workdir DIR] [--clean]

What it runs: OpenSearch's minimal distribution from Maven Central
(``org.opensearch.distribution.integ-test-zip:opensearch:<version>:zip``: lib/, bin/,
config/ and only the transport-netty4 module, no plugins, no JDK, no security plugin)
plus the ``analysis-common`` module (``org.opensearch.plugin:analysis-common:<version>``,
a plain jar on Central), which brings the language analyzers (german, french, ...),
the stemmer/snowball filters and the rest of OpenSearch's "built in" analysis, and the
``lang-painless`` module (``org.opensearch.plugin:lang-painless:<version>``, a jar plus its
antlr/asm/painless-spi dependencies), which the k-NN plugin extends. Each module directory
gets the plugin descriptor (and security policy) that the full distribution carries; a
module the distribution already has is left as it is.

Then the k-NN plugin (``org.opensearch.plugin:opensearch-knn:<version>.0:zip``; its version
must equal the node's, and Central has it for 2.19.1 and 3.5.0 only) is installed with
``bin/opensearch-plugin install --batch`` at fetch time: ``knn_vector`` fields, the ``knn``
query. The zip has no faiss/nmslib native libraries, so only ``engine: lucene`` works.

The node: ``network.host: 127.0.0.1``, ``discovery.type: single-node`` (development
mode: the bootstrap checks such as vm.max_map_count only warn), heap from
OPENSEARCH_JAVA_OPTS (default ``-Xms256m -Xmx512m``), ``cluster.default_number_of_replicas: 0``
so that every index can be green on one node, the disk watermarks off (a nearly full CI
disk would otherwise leave shards unassigned), config/data/logs/tmp in the work dir.
OpenSearch refuses to run as root and has no escape hatch, so as root the node runs as
an unprivileged user (OWD_OPENSEARCH_USER, default ``owd-opensearch``, created with
useradd when missing) that owns the work dir.

Environment:
  OWD_OPENSEARCH_VERSION    distribution version (default 2.19.1, the 2.19.x that Central has the k-NN plugin for;
                            2.x runs on Java 11-23, 3.x on Java 21+)
  OWD_OPENSEARCH_KNN        0 to leave the k-NN plugin (and lang-painless) out, e.g. for a version Central has no
                            opensearch-knn for (default 1)
  OWD_OPENSEARCH_CACHE      where the distribution is unpacked (default ~/.cache/owd/opensearch;
                            as root /var/cache/owd/opensearch, which the unprivileged node user can read)
  OWD_OPENSEARCH_JAVA_HOME  the JDK to run the node with (else JAVA_HOME, else `java` on PATH; when that java does
                            not fit the version, e.g. Java 17 for 3.x, the newest fitting JDK under /usr/lib/jvm)
  OWD_OPENSEARCH_USER       the user the node runs as when this script runs as root
  OPENSEARCH_JAVA_OPTS      JVM options for the node (default -Xms256m -Xmx512m)

Exit codes: 0 ok; 1 the node failed (did not start, did not get healthy, would not stop);
2 usage; 3 not running (status/stop found no node); 4 java or mvn missing or unusable;
5 the fetch failed (Maven could not resolve the artifacts).

Stdlib only, so it runs before any virtualenv exists.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path

DEFAULT_VERSION = "2.19.1"
DEFAULT_PORT = 9200
DEFAULT_HEAP = "-Xms256m -Xmx512m"
DEFAULT_USER = "owd-opensearch"
HOST = "127.0.0.1"

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_NOT_RUNNING, EXIT_MISSING_TOOL, EXIT_FETCH_FAILED = 0, 1, 2, 3, 4, 5

DISTRIBUTION = "org.opensearch.distribution.integ-test-zip:opensearch:{version}:zip"
JVM_DIRS = (Path("/usr/lib/jvm"),)  # where to look for a JDK that fits when the configured one does not


@dataclass(frozen=True)
class Module:
    """A module the integ-test zip lacks, on Central as a plain jar (plus, with_deps, its runtime dependencies)."""
    artifact: str
    name: str
    classnames: tuple[str, ...]  # the plugin class; the first one the jar has (it was renamed in 3.x)
    description: str
    with_deps: bool = False
    policy: str = ""  # plugin-security.policy, as the full distribution has it
    knn_only: bool = False  # only needed for the k-NN plugin


MODULES = [
    Module("org.opensearch.plugin:analysis-common:{version}", "analysis-common",
           ("org.opensearch.analysis.common.CommonAnalysisPlugin",), 'Adds "built in" analyzers to OpenSearch.'),
    # opensearch-knn declares extended.plugins=lang-painless: it does not load without it.
    Module("org.opensearch.plugin:lang-painless:{version}", "lang-painless",
           ("org.opensearch.painless.PainlessModulePlugin", "org.opensearch.painless.PainlessPlugin"),
           "An easy, safe and fast scripting language for OpenSearch", with_deps=True, knn_only=True,
           policy='grant {\n  // needed to generate runtime classes\n'
                  '  permission java.lang.RuntimePermission "createClassLoader";\n'
                  '  // needed to find the classloader to load whitelisted classes from\n'
                  '  permission java.lang.RuntimePermission "getClassLoader";\n};\n'),
]
# Plugins installed with bin/opensearch-plugin: (artifact, plugins/ dir). The version is the node's plus ".0".
KNN_PLUGIN = ("org.opensearch.plugin:opensearch-knn:{version}.0:zip", "opensearch-knn")
KNN_VERSIONS_ON_CENTRAL = ("2.19.1", "3.5.0")
COMPLETE_MARKER = ".owd-complete"


class NodeError(Exception):
    """A failure with an exit code and a message for the user."""

    def __init__(self, message: str, code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.code = code


# ---------------------------------------------------------------- locations

def version() -> str:
    return os.environ.get("OWD_OPENSEARCH_VERSION", DEFAULT_VERSION)


def with_knn() -> bool:
    return os.environ.get("OWD_OPENSEARCH_KNN", "1").strip().lower() not in ("0", "false", "no", "off", "")


def is_root() -> bool:
    return os.geteuid() == 0


def cache_dir() -> Path:
    env = os.environ.get("OWD_OPENSEARCH_CACHE")
    if env:
        return Path(env).expanduser().resolve()
    if is_root():
        # ~root is mode 700: the unprivileged node user could not read a distribution under it.
        return Path("/var/cache/owd/opensearch")
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "owd" / "opensearch"


def home_dir(ver: str | None = None, knn: bool | None = None) -> Path:
    ver = ver or version()
    knn = with_knn() if knn is None else knn
    return cache_dir() / ver / (f"opensearch-{ver}-knn" if knn else f"opensearch-{ver}")


def default_workdir(port: int) -> Path:
    return cache_dir() / "nodes" / f"node-{port}"


# ---------------------------------------------------------------- tools

@dataclass
class Java:
    home: Path
    major: int


def _java_major(java: Path) -> int | None:
    try:
        out = subprocess.run([str(java), "-version"], capture_output=True, text=True, timeout=60).stderr
    except (OSError, subprocess.TimeoutExpired):
        return None
    m = re.search(r'version "(\d+)(?:\.(\d+))?', out)
    if not m:
        return None
    major = int(m.group(1))
    return int(m.group(2)) if major == 1 and m.group(2) else major


def java_range(ver: str | None = None) -> tuple[int, int]:
    """The Java majors an OpenSearch version runs on: 2.x needs the Security Manager, which Java 24 removed;
    3.x needs Java 21."""
    ver = ver or version()
    return (11, 23) if int(ver.split(".")[0]) < 3 else (21, 99)


def _describe_range(lo: int, hi: int) -> str:
    return f"{lo}-{hi}" if hi < 99 else f"{lo}+"


def _jvm_dir_candidates() -> list[tuple[str, Path]]:
    """The JDKs under /usr/lib/jvm (symlinked aliases once), for when the configured java does not fit."""
    found: dict[str, tuple[str, Path]] = {}
    for base in JVM_DIRS:
        with contextlib.suppress(OSError):
            for d in sorted(base.iterdir()):
                java = d / "bin" / "java"
                if java.is_file():
                    found.setdefault(os.path.realpath(java), (str(base), java))
    return list(found.values())


def find_java(ver: str | None = None) -> Java:
    """The JDK for the node: OWD_OPENSEARCH_JAVA_HOME, JAVA_HOME, or `java` on PATH, when its major fits the
    version (java_range); if none of them does, the newest fitting JDK under /usr/lib/jvm."""
    ver = ver or version()
    lo, hi = java_range(ver)
    wanted = _describe_range(lo, hi)
    candidates: list[tuple[str, Path]] = []
    for var in ("OWD_OPENSEARCH_JAVA_HOME", "JAVA_HOME"):
        if os.environ.get(var):
            candidates.append((var, Path(os.environ[var]) / "bin" / "java"))
    on_path = shutil.which("java")
    if on_path:
        candidates.append(("PATH", Path(os.path.realpath(on_path))))
    if not candidates:
        raise NodeError(f"java not found (need a JDK {wanted} on PATH, or JAVA_HOME / OWD_OPENSEARCH_JAVA_HOME)",
                        EXIT_MISSING_TOOL)
    problems = []
    for source, java in candidates:
        if not os.access(java, os.X_OK):
            problems.append(f"{source}: {java} is not executable")
            continue
        major = _java_major(java)
        if major is None:
            problems.append(f"{source}: `{java} -version` did not answer")
        elif not lo <= major <= hi:
            problems.append(f"{source}: {java} is Java {major}; OpenSearch {ver} runs on Java {wanted}")
        else:
            return Java(java.parent.parent, major)
    # The configured java does not fit (say Java 17 on PATH, and 3.x wants 21+): take the newest that does.
    fitting = []
    for source, java in _jvm_dir_candidates():
        major = _java_major(java) if os.access(java, os.X_OK) else None
        if major is not None and lo <= major <= hi:
            fitting.append((major, java))
    if fitting:
        major, java = max(fitting, key=lambda mj: mj[0])
        return Java(java.parent.parent, major)
    raise NodeError(f"no usable java (OpenSearch {ver} needs Java {wanted}; none under "
                    f"{', '.join(map(str, JVM_DIRS))} either; set OWD_OPENSEARCH_JAVA_HOME): " + "; ".join(problems),
                    EXIT_MISSING_TOOL)


def find_mvn() -> str:
    mvn = shutil.which("mvn")
    if not mvn:
        raise NodeError("mvn (Maven) not found: it fetches OpenSearch from Maven Central "
                        "(apt-get install maven)", EXIT_MISSING_TOOL)
    return mvn


# ---------------------------------------------------------------- fetch

def _run_mvn(mvn: str, args: list[str], artifact: str, dest: Path, java: Java, hint: str = "") -> list[Path]:
    """Run mvn (strict checksums) to copy artifact(s) into dest; return the files it copied."""
    env = {**os.environ, "JAVA_HOME": str(java.home)}
    cmd = [mvn, "-B", "-q", "-C", *args, f"-DoutputDirectory={dest}"]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=dest, timeout=1200)
    except subprocess.TimeoutExpired:
        raise NodeError(f"mvn did not fetch {artifact} within 20 minutes", EXIT_FETCH_FAILED) from None
    if proc.returncode != 0:
        lines = [ln for ln in (proc.stdout + proc.stderr).splitlines() if "ERROR" in ln][:3]
        raise NodeError(f"mvn could not fetch {artifact}:\n  " + "\n  ".join(lines or [proc.stdout[-500:]])
                        + (f"\n{hint}" if hint else ""), EXIT_FETCH_FAILED)
    files = sorted(p for p in dest.iterdir() if p.is_file() and p.suffix in (".jar", ".zip"))
    if not files:
        raise NodeError(f"mvn reported success but copied nothing for {artifact}", EXIT_FETCH_FAILED)
    return files


def _mvn_copy(mvn: str, artifact: str, dest: Path, java: Java, hint: str = "") -> Path:
    return _run_mvn(mvn, ["dependency:copy", f"-Dartifact={artifact}"], artifact, dest, java, hint)[-1]


def _mvn_copy_with_deps(mvn: str, artifact: str, dest: Path, java: Java) -> list[Path]:
    """The jar and its runtime dependencies, without OpenSearch itself (the node has it in lib/): what a
    module directory of the full distribution holds (lang-painless: antlr, asm, painless-spi)."""
    group, name, ver = artifact.split(":")
    pom = dest.parent / f"{dest.name}.pom.xml"
    pom.write_text(
        "<project xmlns=\"http://maven.apache.org/POM/4.0.0\"><modelVersion>4.0.0</modelVersion>\n"
        "<groupId>owd</groupId><artifactId>owd-opensearch-module</artifactId><version>0</version>\n"
        f"<dependencies><dependency><groupId>{group}</groupId><artifactId>{name}</artifactId>"
        f"<version>{ver}</version>\n<exclusions><exclusion><groupId>org.opensearch</groupId>"
        "<artifactId>*</artifactId></exclusion></exclusions></dependency></dependencies></project>\n")
    return _run_mvn(mvn, ["-f", str(pom), "dependency:copy-dependencies", "-DincludeScope=runtime"],
                    artifact, dest, java)


def _install_plugin(dist: Path, archive: Path, java: Java) -> None:
    """bin/opensearch-plugin install --batch: checks the descriptor, the version, the extended plugins and
    jar hell now rather than at the node's start."""
    env = {k: v for k, v in os.environ.items() if k not in ("JAVA_TOOL_OPTIONS", "JAVA_OPTS", "OPENSEARCH_HOME")}
    env.update({"JAVA_HOME": str(java.home), "OPENSEARCH_PATH_CONF": str(dist / "config")})
    env.pop("OPENSEARCH_JAVA_HOME", None)
    cmd = [str(dist / "bin" / "opensearch-plugin"), "install", "--batch", archive.resolve().as_uri()]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=dist, timeout=600)
    except subprocess.TimeoutExpired:
        raise NodeError(f"opensearch-plugin install {archive.name} took over 10 minutes", EXIT_FETCH_FAILED) from None
    if proc.returncode != 0:
        out = "\n  ".join((proc.stdout + proc.stderr).strip().splitlines()[-8:])
        raise NodeError(f"opensearch-plugin install {archive.name} failed ({proc.returncode}):\n  {out}",
                        EXIT_FETCH_FAILED)


def _unzip(archive: Path, dest: Path) -> None:
    """Unpack keeping the Unix modes (bin/ scripts must stay executable); zipfile alone drops them."""
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            target = (dest / info.filename).resolve()
            if not str(target).startswith(str(dest.resolve()) + os.sep):
                raise NodeError(f"unsafe path in {archive.name}: {info.filename}", EXIT_FETCH_FAILED)
            zf.extract(info, dest)
            mode = (info.external_attr >> 16) & 0o777
            if mode and not info.is_dir():
                os.chmod(target, mode)


@contextlib.contextmanager
def _lock(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def fetch(ver: str | None = None, quiet: bool = False) -> Path:
    """Fetch and unpack the distribution, modules and plugins once; return OPENSEARCH_HOME. Safe to run
    concurrently."""
    ver = ver or version()
    knn = with_knn()
    home = home_dir(ver, knn)
    if (home / COMPLETE_MARKER).exists():
        return home
    java = find_java(ver)
    mvn = find_mvn()
    root = home.parent
    with _lock(root / ".fetch.lock"):
        if (home / COMPLETE_MARKER).exists():
            return home
        t0 = time.monotonic()
        if not quiet:
            print(f"fetching OpenSearch {ver}{' with k-NN' if knn else ''} with Maven into {root} ...",
                  file=sys.stderr)
        with tempfile.TemporaryDirectory(dir=root, prefix=".fetch-") as tmp:
            tmpdir = Path(tmp)
            dl = tmpdir / "dist"
            dl.mkdir()
            archive = _mvn_copy(mvn, DISTRIBUTION.format(version=ver), dl, java)
            unpacked = tmpdir / "unpacked"
            unpacked.mkdir()
            _unzip(archive, unpacked)
            dist = unpacked / f"opensearch-{ver}"
            if not (dist / "lib" / f"opensearch-{ver}.jar").exists():
                raise NodeError(f"{archive.name} does not hold opensearch-{ver}/lib/opensearch-{ver}.jar",
                                EXIT_FETCH_FAILED)
            for module in MODULES:
                mdir = dist / "modules" / module.name
                if (module.knn_only and not knn) or (mdir / "plugin-descriptor.properties").exists():
                    continue  # not wanted, or the distribution has it already (3.x ships lang-painless)
                mdl = tmpdir / f"module-{module.name}"
                mdl.mkdir()
                artifact = module.artifact.format(version=ver)
                jars = (_mvn_copy_with_deps(mvn, artifact, mdl, java) if module.with_deps
                        else [_mvn_copy(mvn, artifact, mdl, java)])
                mdir.mkdir(parents=True)
                for jar in jars:
                    shutil.copy2(jar, mdir / jar.name)
                main_jar = mdir / f"{artifact.split(':')[1]}-{ver}.jar"
                with zipfile.ZipFile(main_jar) as zf:
                    names = set(zf.namelist())
                classname = next((c for c in module.classnames if c.replace(".", "/") + ".class" in names), None)
                if classname is None:
                    raise NodeError(f"{main_jar.name} has none of {', '.join(module.classnames)}", EXIT_FETCH_FAILED)
                (mdir / "plugin-descriptor.properties").write_text(
                    f"# written by owd scripts/opensearch_node.py (Central has the jar, not the module zip)\n"
                    f"description={module.description}\nversion={ver}\nname={module.name}\n"
                    f"classname={classname}\njava.version=11\nopensearch.version={ver}\ncustom.foldername=\n"
                    f"extended.plugins=\nhas.native.controller=false\n")
                if module.policy:
                    (mdir / "plugin-security.policy").write_text(module.policy)
            if knn:
                artifact, name = KNN_PLUGIN
                pdl = tmpdir / f"plugin-{name}"
                pdl.mkdir()
                archive = _mvn_copy(mvn, artifact.format(version=ver), pdl, java, hint=(
                    f"(the k-NN plugin's version must equal the node's; Central has it for "
                    f"{', '.join(KNN_VERSIONS_ON_CENTRAL)}: set OWD_OPENSEARCH_VERSION to one of them, "
                    f"or OWD_OPENSEARCH_KNN=0 to go without it)"))
                _install_plugin(dist, archive, java)
            # Readable by all: as root the node runs as another user (and the zip has 0660 config files).
            for p in [dist, *dist.rglob("*")]:
                p.chmod(0o755 if p.is_dir() else p.stat().st_mode & 0o777 | 0o444)
            (dist / COMPLETE_MARKER).write_text(json.dumps(
                {"version": ver, "knn": knn, "fetched_s": round(time.monotonic() - t0, 1), "at": time.time()}) + "\n")
            if home.exists():
                shutil.rmtree(home)
            os.replace(dist, home)
        if not quiet:
            print(f"fetched in {time.monotonic() - t0:.1f}s: {home}", file=sys.stderr)
    return home


# ---------------------------------------------------------------- node state

@dataclass
class NodeInfo:
    pid: int
    port: int
    url: str
    workdir: str
    home: str
    version: str
    user: str

    @classmethod
    def load(cls, workdir: Path) -> "NodeInfo | None":
        try:
            return cls(**json.loads((workdir / "node.json").read_text()))
        except (OSError, ValueError, TypeError):
            return None

    def save(self) -> None:
        path = Path(self.workdir) / "node.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=1) + "\n")
        os.replace(tmp, path)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie (our own unreaped child) is not alive
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


def is_our_node(info: NodeInfo) -> bool:
    """The pid still runs OpenSearch from our work dir (and not a recycled pid)."""
    if not pid_alive(info.pid):
        return False
    try:
        cmdline = Path(f"/proc/{info.pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return True
    return "org.opensearch.bootstrap.OpenSearch" in cmdline or "opensearch" in cmdline


def rss_mib(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def http_json(url: str, timeout: float = 5.0) -> dict:
    with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 (loopback only)
        return json.loads(resp.read().decode())


def health(url: str, wait_for: str | None = None, timeout_s: float = 1.0) -> dict:
    q = f"{url}/_cluster/health"
    if wait_for:
        q += f"?wait_for_status={wait_for}&timeout={max(1, int(timeout_s))}s"
    return http_json(q, timeout=timeout_s + 5)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex((HOST, port)) == 0


# ---------------------------------------------------------------- node user (root only)

def node_user() -> pwd.struct_passwd | None:
    """None when not root (the node runs as us); else the unprivileged user, created if missing."""
    if not is_root():
        return None
    name = os.environ.get("OWD_OPENSEARCH_USER", DEFAULT_USER)
    try:
        return pwd.getpwnam(name)
    except KeyError:
        pass
    useradd = shutil.which("useradd") or "/usr/sbin/useradd"
    proc = subprocess.run([useradd, "--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent",
                           "--shell", "/usr/sbin/nologin", name], capture_output=True, text=True)
    try:
        return pwd.getpwnam(name)
    except KeyError:
        raise NodeError(f"OpenSearch refuses to run as root, and creating user {name!r} failed: "
                        f"{proc.stderr.strip()} (set OWD_OPENSEARCH_USER to an existing unprivileged user)") from None


def _chown_tree(path: Path, uid: int, gid: int) -> None:
    os.chown(path, uid, gid)
    for p in path.rglob("*"):
        os.chown(p, uid, gid, follow_symlinks=False)


# ---------------------------------------------------------------- start / stop

def _jvm_options(home: Path, workdir: Path) -> str:
    """The distribution's jvm.options with its relative paths (cwd = OPENSEARCH_HOME, read-only for the
    node user) moved into the work dir, smaller GC logs, and no -Xms/-Xmx (OPENSEARCH_JAVA_OPTS sets them)."""
    out = ["# from the distribution's jvm.options, rewritten by scripts/opensearch_node.py"]
    logs = workdir / "logs"
    for line in (home / "config" / "jvm.options").read_text().splitlines():
        s = line.strip()
        if not s or s.startswith("#") or re.match(r"^(\d+(-\d*)?:)?-Xm[sx]", s):
            continue
        s = s.replace("HeapDumpPath=data", f"HeapDumpPath={workdir / 'tmp'}")
        s = s.replace("=logs/", f"={logs}/").replace("file=logs/", f"file={logs}/")
        s = s.replace("filecount=32,filesize=64m", "filecount=2,filesize=16m")
        out.append(s)
    return "\n".join(out) + "\n"


def _opensearch_yml(port: int, workdir: Path, home: Path) -> str:
    lines = [
        "# written by scripts/opensearch_node.py: a throwaway single node on loopback",
        "cluster.name: owd-dev",
        f"node.name: owd-node-{port}",
        f"network.host: {HOST}",
        f"http.port: {port}",
        "discovery.type: single-node",
        f"path.data: {workdir / 'data'}",
        f"path.logs: {workdir / 'logs'}",
        "bootstrap.memory_lock: false",
        # One node holds no replica: with the default of 1 every index would stay yellow.
        "cluster.default_number_of_replicas: 0",
        # A nearly full disk must not leave test shards unassigned.
        "cluster.routing.allocation.disk.threshold_enabled: false",
        "action.auto_create_index: true",
    ]
    if (home / "plugins" / "opensearch-security").exists():
        lines.append("plugins.security.disabled: true")
    return "\n".join(lines) + "\n"


def _tail(path: Path, n: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return f"({path} unreadable)"


def _die_with_parent_fn():
    """A preexec_fn that makes the kernel SIGTERM the node when the thread that started it dies
    (test fixtures). Resolved here, in the parent: the child has already dropped to the node
    user, who may not read this Python's files (an import there fails under /root)."""
    import ctypes

    prctl = ctypes.CDLL(None, use_errno=True).prctl
    sigterm = int(signal.SIGTERM)

    def preexec() -> None:
        prctl(1, sigterm, 0, 0, 0)  # PR_SET_PDEATHSIG; set after the uid change, which would clear it

    return preexec


def start_node(port: int = DEFAULT_PORT, workdir: Path | None = None, timeout: float = 180.0,
               die_with_parent: bool = False, quiet: bool = False) -> NodeInfo:
    """Start a node (fetching first if needed) and wait until it is green; reuse one already running there."""
    if port == 0:
        port = free_port()
    workdir = (workdir or default_workdir(port)).resolve()
    info = NodeInfo.load(workdir)
    if info and is_our_node(info):
        if info.port != port:
            raise NodeError(f"{workdir} already runs a node on port {info.port}")
        health(info.url, "green", min(timeout, 60))
        return info
    if port_in_use(port):
        raise NodeError(f"port {HOST}:{port} is already in use (another node? try --port 0)")
    java = find_java()
    home = fetch(quiet=quiet)
    user = node_user()

    conf = workdir / "config"
    for sub in ("config", "data", "logs", "tmp"):
        (workdir / sub).mkdir(parents=True, exist_ok=True)
    shutil.copy2(home / "config" / "log4j2.properties", conf / "log4j2.properties")
    (conf / "jvm.options").write_text(_jvm_options(home, workdir))
    (conf / "jvm.options.d").mkdir(exist_ok=True)
    (conf / "opensearch.yml").write_text(_opensearch_yml(port, workdir, home))
    if user is not None:
        _chown_tree(workdir, user.pw_uid, user.pw_gid)
        # The node user must reach its work dir, the distribution and the JDK.
        for what, path in (("--workdir", workdir), ("OWD_OPENSEARCH_CACHE", home), ("JDK", java.home)):
            for parent in [p for p in path.parents if p != Path("/")]:
                if not os.stat(parent).st_mode & 0o001:
                    raise NodeError(f"the node user {user.pw_name} cannot enter {parent} (mode "
                                    f"{oct(os.stat(parent).st_mode & 0o777)}): put the {what} outside it")

    env = {k: v for k, v in os.environ.items() if k not in ("JAVA_TOOL_OPTIONS", "JAVA_OPTS", "OPENSEARCH_HOME")}
    env.update({
        "JAVA_HOME": str(java.home),
        "OPENSEARCH_PATH_CONF": str(conf),
        "OPENSEARCH_TMPDIR": str(workdir / "tmp"),
        "OPENSEARCH_JAVA_OPTS": os.environ.get("OPENSEARCH_JAVA_OPTS") or DEFAULT_HEAP,
        "HOME": str(workdir),
    })
    env.pop("OPENSEARCH_JAVA_HOME", None)
    log = workdir / "logs" / "stdout.log"
    kwargs: dict = {}
    if user is not None:
        kwargs.update(user=user.pw_uid, group=user.pw_gid, extra_groups=[])
    if die_with_parent:
        kwargs["preexec_fn"] = _die_with_parent_fn()
    t0 = time.monotonic()
    with open(log, "ab") as out:
        # bin/opensearch checks the Java version, parses jvm.options and execs java: the pid is the JVM's.
        proc = subprocess.Popen([str(home / "bin" / "opensearch")], cwd=str(workdir), env=env,
                                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True, **kwargs)
    run_as = user.pw_name if user else pwd.getpwuid(os.geteuid()).pw_name
    info = NodeInfo(pid=proc.pid, port=port, url=f"http://{HOST}:{port}", workdir=str(workdir),
                    home=str(home), version=version(), user=run_as)
    info.save()
    (workdir / "opensearch.pid").write_text(f"{proc.pid}\n")

    deadline = t0 + timeout
    while True:
        if proc.poll() is not None:
            raise NodeError(f"OpenSearch exited with {proc.returncode} during start; {log} ends:\n{_tail(log)}")
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            stop_node(workdir=workdir, quiet=True)
            raise NodeError(f"OpenSearch did not get green within {timeout:.0f}s; {log} ends:\n{_tail(log)}")
        try:
            h = health(info.url, "green", min(5.0, max(1.0, remaining)))
            if h.get("status") == "green":
                break
        except (urllib.error.URLError, ConnectionError, OSError, ValueError):
            time.sleep(0.5)
    if not quiet:
        rss = rss_mib(proc.pid)
        print(f"OpenSearch {info.version} green in {time.monotonic() - t0:.1f}s, pid {proc.pid}"
              f"{f', RSS {rss:.0f} MiB' if rss else ''}, work dir {workdir}", file=sys.stderr)
    return info


def stop_node(port: int = DEFAULT_PORT, workdir: Path | None = None, timeout: float = 60.0,
              quiet: bool = False) -> bool:
    """Stop the node of this work dir: SIGTERM, wait, SIGKILL. False when none was running."""
    workdir = (workdir or default_workdir(port)).resolve()
    info = NodeInfo.load(workdir)
    if info is None or not is_our_node(info):
        return False
    os.kill(info.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while pid_alive(info.pid) and time.monotonic() < deadline:
        _reap(info.pid)
        time.sleep(0.2)
    if pid_alive(info.pid):
        os.kill(info.pid, signal.SIGKILL)
        for _ in range(50):
            _reap(info.pid)
            if not pid_alive(info.pid):
                break
            time.sleep(0.1)
    if pid_alive(info.pid):
        raise NodeError(f"OpenSearch pid {info.pid} survived SIGKILL")
    _reap(info.pid)
    with contextlib.suppress(OSError):
        (workdir / "opensearch.pid").unlink()
    if not quiet:
        print(f"stopped OpenSearch pid {info.pid} ({info.url})", file=sys.stderr)
    return True


def clean_workdir(workdir: Path) -> None:
    """Delete a stopped node's work dir, only if it is one this script laid out."""
    info = NodeInfo.load(workdir)
    if info is None or Path(info.workdir) != workdir or not (workdir / "config" / "opensearch.yml").exists():
        return
    if is_our_node(info):
        raise NodeError(f"{workdir} still has a running node (pid {info.pid})")
    shutil.rmtree(workdir)


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


# ---------------------------------------------------------------- CLI

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split("\n\n", 1)[1])
    sub = parser.add_subparsers(dest="command", required=True)
    p_fetch = sub.add_parser("fetch", help="fetch and unpack OpenSearch with Maven (once)")
    p_fetch.set_defaults(port=DEFAULT_PORT)
    for name, text in (("start", "start a node in the background and wait until it is green"),
                       ("stop", "stop the node"), ("status", "print the node's health")):
        p = sub.add_parser(name, help=text)
        p.add_argument("--port", type=int, default=DEFAULT_PORT,
                       help="HTTP port on 127.0.0.1 (default 9200; start --port 0 picks a free one)")
        p.add_argument("--workdir", type=Path, help="config/data/logs dir (default CACHE/nodes/node-PORT)")
        if name == "start":
            p.add_argument("--timeout", type=float, default=180.0, help="seconds to wait for green (default 180)")
        if name == "stop":
            p.add_argument("--clean", action="store_true", help="then delete the work dir (its data and logs)")
    args = parser.parse_args(argv)
    try:
        if args.command == "fetch":
            home = fetch()
            print(home)
            return EXIT_OK
        if args.command == "start":
            info = start_node(args.port, args.workdir, args.timeout)
            print(info.url)
            return EXIT_OK
        if args.command == "stop":
            stopped = stop_node(args.port, args.workdir)
            if args.clean:
                clean_workdir((args.workdir or default_workdir(args.port)).resolve())
            if not stopped:
                print("no OpenSearch node running there", file=sys.stderr)
                return EXIT_NOT_RUNNING
            return EXIT_OK
        if args.command == "status":
            workdir = (args.workdir or default_workdir(args.port)).resolve()
            info = NodeInfo.load(workdir)
            if info is None or not is_our_node(info):
                print(f"not running (work dir {workdir})", file=sys.stderr)
                return EXIT_NOT_RUNNING
            try:
                h = health(info.url)
            except (urllib.error.URLError, OSError, ValueError) as exc:
                print(f"pid {info.pid} runs but {info.url} does not answer: {exc}", file=sys.stderr)
                return EXIT_FAILED
            rss = rss_mib(info.pid)
            print(json.dumps({"url": info.url, "pid": info.pid, "version": info.version, "user": info.user,
                              "rss_mib": round(rss) if rss else None, "workdir": info.workdir,
                              "status": h.get("status"), "number_of_nodes": h.get("number_of_nodes"),
                              "active_shards": h.get("active_shards")}, indent=1))
            return EXIT_OK if h.get("status") in ("green", "yellow") else EXIT_FAILED
    except NodeError as exc:
        print(f"opensearch_node: {exc}", file=sys.stderr)
        return exc.code
    return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
