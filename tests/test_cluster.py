"""Cluster profiles: lookup, validation, rendered job scripts, and clients from profiles.

Job scripts are checked the way dask-jobqueue's own tests do, without a batch system: the
cluster object starts a scheduler in this process and renders ``job_script()``; no job is
submitted. Every cluster made here is closed. The replacement of ended jobs is checked on a
stand-in cluster that has only the public attributes it may use, and end to end (slow) with
dask-jobqueue's local "batch system".
"""
from __future__ import annotations

import asyncio
import logging
import sys
import time
from pathlib import Path

import dask.config
import pytest
import yaml

from sweeps import SpecError
from sweeps import cluster as C
from sweeps.cluster import ClusterProfile, available_profiles, client_for, cluster_from_profile, load_profile
from sweeps.cluster import construct, resubmit

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ("local", "address", "slurm", "pbs", "sge", "lsf")
JOBQUEUE = ("slurm", "pbs", "sge", "lsf")


@pytest.fixture(autouse=True)
def _no_user_profiles(tmp_path, monkeypatch):
    """Tests see only the shipped profiles, not the developer's own."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    with dask.config.set({"nmm.clusters": {}}):
        yield


@pytest.fixture
def make_cluster():
    """cluster_from_profile, closing every cluster at the end of the test."""
    made = []

    def make(profile):
        cluster, address = cluster_from_profile(profile)
        made.append(cluster)
        return cluster, address

    yield make
    for c in made:
        if c is not None:
            c.close()


# --------------------------------------------------------------------------- shipped profiles


def test_every_kind_is_shipped_and_listed():
    names = available_profiles()
    for name in SHIPPED:
        assert names[name] == str(ROOT / "sweeps" / "cluster" / "profiles" / f"{name}.yaml")
        p = load_profile(name)
        assert (p.name, p.kind) == (name, name)
        assert p.description


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_profiles_round_trip(name):
    p = load_profile(name)
    assert ClusterProfile.from_dict(p.to_dict(), name=p.name, source=p.source) == p
    assert ClusterProfile.from_dict(yaml.safe_load(yaml.safe_dump(p.to_dict())), name=p.name, source=p.source) == p


# directive prefix, queue line, walltime line of each batch system
DIRECTIVES = {
    "slurm": ("#SBATCH", "#SBATCH -p normal", "#SBATCH -t 04:00:00"),
    "pbs": ("#PBS", "#PBS -q workq", "#PBS -l walltime=04:00:00"),
    "sge": ("#$", "#$ -q all.q", "#$ -l h_rt=04:00:00"),
    "lsf": ("#BSUB", "#BSUB -q normal", "#BSUB -W 04:00"),
}


@pytest.mark.parametrize("name", JOBQUEUE)
def test_shipped_jobqueue_profile_renders(name, make_cluster):
    cluster, address = make_cluster(name)
    script = cluster.job_script()
    prefix, queue, wall = DIRECTIVES[name]
    assert script.startswith("#!/usr/bin/env bash")
    assert queue in script and wall in script
    assert all(line.startswith(prefix) for line in script.splitlines()[1:] if line.startswith("#") and line[1:2] != "!")
    assert f"{sys.executable} -m distributed.cli.dask_worker {address}" in script
    assert "--nthreads 1 " in script and "--nworkers 8 " in script
    assert "--lifetime 225m --lifetime-stagger 10m" in script
    assert load_profile(name).jobs == 4


# a profile using every common option; expected lines per kind
FULL = {
    "cores": 4, "memory": "8GB", "processes": 2, "walltime": "01:30:00", "queue": "debug",
    "job_name": "nmm-sweep", "job_extra_directives": ["--extra-directive"],
    "job_script_prologue": ["module load python/3.11", "source ~/venvs/nmm/bin/activate"],
    "worker_extra_args": ["--lifetime", "80m", "--lifetime-stagger", "4m"],
    "local_directory": "$TMPDIR", "scheduler_options": {"host": "127.0.0.1", "dashboard_address": ":0"},
    "adaptive": {"minimum_jobs": 0, "maximum_jobs": 6},
}
EXPECTED = {
    "slurm": ({"account": "proj-42"},
              ["#SBATCH -J nmm-sweep", "#SBATCH -p debug", "#SBATCH -A proj-42", "#SBATCH -n 1",
               "#SBATCH --cpus-per-task=4", "#SBATCH --mem=8G", "#SBATCH -t 01:30:00", "#SBATCH --extra-directive"]),
    "pbs": ({"account": "proj-42"},
            ["#PBS -N nmm-sweep", "#PBS -q debug", "#PBS -A proj-42", "#PBS -l select=1:ncpus=4:mem=7630MB",
             "#PBS -l walltime=01:30:00", "#PBS --extra-directive"]),
    "sge": ({"project": "proj-42", "resource_spec": "h_vmem=4G"},
            ["#$ -N nmm-sweep", "#$ -q debug", "#$ -P proj-42", "#$ -l h_vmem=4G", "#$ -l h_rt=01:30:00",
             "#$ --extra-directive"]),
    "lsf": ({"project": "proj-42", "walltime": "01:30"},
            ["#BSUB -J nmm-sweep", "#BSUB -q debug", '#BSUB -P "proj-42"', "#BSUB -n 4", "#BSUB -M 8000000",
             "#BSUB -W 01:30", "#BSUB --extra-directive"]),
}


@pytest.mark.parametrize("kind", JOBQUEUE)
def test_jobqueue_options_in_job_script(kind, make_cluster):
    extra, lines = EXPECTED[kind]
    profile = ClusterProfile.from_dict({"kind": kind, **FULL, **extra}, name=f"full-{kind}")
    assert profile.adaptive == {"minimum_jobs": 0, "maximum_jobs": 6} and profile.jobs is None
    cluster, address = make_cluster(profile)
    assert address.startswith("tcp://127.0.0.1:")
    script = cluster.job_script()
    got = script.splitlines()
    for line in lines:
        assert line in got, f"{line!r} not in\n{script}"
    # prologue lines come after the directives and before the worker command
    first = got.index("module load python/3.11")
    assert got[first + 1] == "source ~/venvs/nmm/bin/activate"
    assert got[first + 2].startswith(f"{sys.executable} -m distributed.cli.dask_worker {address}")
    worker = got[first + 2]
    assert "--nthreads 2 " in worker and "--nworkers 2 " in worker and "--memory-limit 3.73GiB" in worker
    assert "--local-directory $TMPDIR" in worker
    assert worker.endswith("--lifetime 80m --lifetime-stagger 4m")


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize("d, match", [
    ({"kind": "local", "jobs": 2}, r"'jobs' is a key of kind slurm, pbs, sge, lsf, not of kind 'local'; remove it"),
    ({"kind": "slurm", "address": "tcp://h:1", "cores": 1, "jobs": 1},
     r"'address' is a key of kind address, not of kind 'slurm'"),
    ({"address": "tcp://h:1", "cores": 2}, r"unknown key 'cores' in cluster profile 'bad'; allowed keys: address, "),
    ({"kind": "slrum"}, r"unknown kind 'slrum'; use one of local, address, slurm, pbs, sge, lsf\. Did you mean 'slurm'\?"),
    ({"cores": 2}, r"has no kind: add `kind: <one of local, address, slurm"),
    (["slurm"], r"must be a mapping of options such as `kind: slurm`, got list"),
    ({"kind": "slurm", "memory": "1GB", "jobs": 1}, r"needs cores per job \(nmm starts one .*e\.g\. `cores: 8`"),
    ({"kind": "slurm", "cores": 0, "memory": "1GB", "jobs": 1}, r"cores must be an integer >= 1, got 0"),
    ({"kind": "slurm", "cores": 4, "memory": "1GB", "processes": 3, "jobs": 1},
     r"processes \(3\) must divide cores \(4\)"),
    ({"kind": "slurm", "cores": 1, "memory": "1GB", "walltime": 14400, "jobs": 1},
     r"walltime must be a quoted string such as walltime: '4:00:00' .*got 14400"),
    ({"kind": "pbs", "cores": 1, "memory": "1GB", "walltime": "1-00:00:00", "jobs": 1},
     r"walltime '1-00:00:00' is not HH:MM:SS\."),
    ({"kind": "slurm", "cores": 1, "memory": "1GB", "walltime": "01:00:00", "jobs": 1,
      "worker_extra_args": ["--lifetime", "55m", "--lifetime-stagger", "5m"]},
     r"--lifetime 55m plus --lifetime-stagger reaches the walltime '01:00:00'.*Leave a margin, e\.g\. --lifetime 49m"),
    ({"kind": "slurm", "cores": 1, "memory": "1GB", "jobs": 1, "worker_extra_args": ["--lifetime", "3h50m"]},
     r"--lifetime '3h50m' is not a duration dask reads: .*'230m'"),
    ({"kind": "slurm", "cores": 1, "memory": "1GB", "jobs": 1, "worker_extra_args": ["--lifetime-stagger", "5m"]},
     r"--lifetime-stagger without --lifetime"),
    ({"kind": "slurm", "cores": 1, "memory": "1GB", "jobs": 1, "job_script_prologue": "module load x"},
     r"job_script_prologue must be a list of strings"),
    ({"kind": "slurm", "cores": 1, "memory": "1GB"}, r"give either `jobs: N`.*; without them no job runs\."),
    ({"kind": "slurm", "cores": 1, "memory": "1GB", "jobs": 2, "adaptive": {"maximum_jobs": 3}},
     r"give either `jobs: N`.*, not both\."),
    ({"kind": "slurm", "cores": 1, "memory": "1GB", "adaptive": {"minimum_jobs": 4, "maximum_jobs": 2}},
     r"adaptive\.maximum_jobs must be given and >= minimum_jobs \(4\), got 2"),
    ({"kind": "slurm", "cores": 1, "memory": "1GB", "adaptive": {"maximum": 2}},
     r"unknown key 'maximum' in the adaptive section of cluster profile 'bad'; .*Did you mean 'maximum_jobs'"),
    ({"kind": "address"}, r"address must be a scheduler address such as tcp://host:8786, got None"),
    ({"address": "tcp://h:1", "security": {"tls_ca_file": "ca.pem"}}, r"security is set but the address 'tcp://h:1' is not tls://"),
    ({"address": "tls://h:1", "security": {"tls_cert": "c.pem", "tls_key": "c.key"}}, r"security needs tls_ca_file"),
    ({"address": "tls://h:1", "security": {"tls_ca_file": "ca.pem", "tls_cert": "c.pem"}},
     r"security\.tls_cert and security\.tls_key go together"),
    ({"address": "tls://h:1", "security": {"tls_ca_file": "ca.pem", "tls_ca": "x"}},
     r"unknown key 'tls_ca' in the security section of cluster profile 'bad'; .*Did you mean .*'tls_ca_file'"),
    ({"address": "tcp://h:1", "timeout": -1}, r"timeout must be a number of seconds > 0, got -1"),
])
def test_invalid_profiles(d, match):
    with pytest.raises(SpecError, match=match):
        ClusterProfile.from_dict(d, name="bad")


def test_errors_name_the_profile_and_file(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("kind: slurm\ncores: 1\nmemory: 1GB\nwalltime: 4:00:00\njobs: 1\n")  # YAML 1.1: 14400
    with pytest.raises(SpecError, match=rf"cluster profile 'mine' \({path}\): walltime must be a quoted string"):
        load_profile(str(path))
    (tmp_path / "broken.yaml").write_text("kind: [slurm\n")
    with pytest.raises(SpecError, match=r"YAML syntax error in cluster profile '.*broken\.yaml' at line 2"):
        load_profile(str(tmp_path / "broken.yaml"))
    with pytest.raises(SpecError, match=r"cluster profile file '.*nowhere\.yaml' not found"):
        load_profile(str(tmp_path / "nowhere.yaml"))


def test_unknown_profile_lists_the_available_ones():
    with pytest.raises(SpecError, match=r"unknown cluster profile 'slurmm'; available: address, local, lsf, pbs, "
                                        r"sge, slurm, a scheduler address .*Did you mean 'slurm'\?"):
        load_profile("slurmm")


def test_missing_certificate_file_is_named(tmp_path):
    p = ClusterProfile.from_dict({"address": "tls://127.0.0.1:1", "security": {"tls_ca_file": "ca.pem"}},
                                 name="tls", base_dir=tmp_path)
    with pytest.raises(SpecError, match=rf"security\.tls_ca_file file '{tmp_path}/ca\.pem' not found"):
        C.security_for(p)


# --------------------------------------------------------------------------- options of the cluster class


@pytest.mark.parametrize("d, match", [
    # names: checked against the class's signature before it is called
    ({"kind": "slurm", "cores": 1, "memroy": "1GB", "jobs": 1},
     r"unknown key 'memroy' in cluster profile 'bad' \(kind slurm: options of dask_jobqueue\.slurm\.SLURMCluster\); "
     r"allowed keys: account, adaptive, .*Did you mean 'memory'\?"),
    ({"kind": "sge", "cores": 1, "memory": "1GB", "account": "x", "jobs": 1},
     r"unknown key 'account' in cluster profile 'bad' \(kind sge: .*\('account' is an option of kind slurm, pbs\.\)"),
    ({"kind": "local", "cores": 2},
     r"unknown key 'cores' in cluster profile 'bad' \(kind local: options of distributed\..*LocalCluster\); .*"
     r"\('cores' is an option of kind slurm, pbs, sge, lsf\.\)"),
    # values: the class's own ValueError or TypeError, with the profile and the call
    ({"kind": "slurm", "cores": 2, "memory": "lots", "jobs": 1},
     r"cluster profile 'bad': dask_jobqueue\.slurm\.SLURMCluster refused the profile's options: Could not interpret "
     r"'lots' as a byte unit \(called as SLURMCluster\(cores=2, memory='lots', processes=2\); every key"),
    ({"kind": "slurm", "cores": 2, "jobs": 1},
     r"refused the profile's options: You must specify how much cores and memory per job .* "
     r"cluster = SLURMCluster\(cores=2, memory='24GB'\)"),
    ({"kind": "pbs", "cores": 1, "memory": "1GB", "host": "10.0.0.1", "jobs": 1},
     r"Please pass 'host' through 'scheduler_options'"),
    ({"kind": "slurm", "cores": 1, "memory": "1GB", "jobs": 1, "scheduler_options": {"hots": "127.0.0.1"},
      "worker_extra_args": []},  # refused when the scheduler starts: SpecCluster wraps it in RuntimeError
     r"refused the profile's options: .*unexpected keyword argument 'hots'"),
    ({"kind": "local", "n_workers": 1, "memory_limit": "lots"},
     r"LocalCluster refused the profile's options: Could not interpret 'lots' as a byte unit"),
])
def test_options_refused_by_the_cluster_class(d, match, make_cluster):
    profile = ClusterProfile.from_dict(d, name="bad")  # nmm passes these keys through
    with pytest.raises(SpecError, match=match):
        make_cluster(profile)


def test_unknown_option_names_the_file(tmp_path):
    path = tmp_path / "site.yaml"
    path.write_text("kind: lsf\ncores: 2\nmemory: 2GB\nqueu: short\njobs: 1\n")
    with pytest.raises(SpecError, match=rf"unknown key 'queu' in cluster profile 'site' \(kind lsf: .*\) "
                                        rf"\(file {path}\); .*Did you mean 'queue'\?"):
        cluster_from_profile(str(path))


@pytest.mark.parametrize("kind", JOBQUEUE)
def test_accepted_keywords_come_from_the_class_signatures(kind):
    keys = C.accepted_keywords(C.cluster_class(kind))
    # JobQueueCluster, the Job base class and the kind's own Job class
    assert {"scheduler_options", "shared_temp_directory", "cores", "memory", "worker_extra_args", "queue",
            "walltime"} <= keys
    assert not keys & {"self", "security", "loop", "n_workers", "job_cls"}  # set by nmm, or no YAML value


@pytest.mark.parametrize("kind, text, seconds", [
    ("slurm", "04:00:00", 14400), ("slurm", "30", 1800), ("slurm", "30:15", 1815), ("slurm", "1-12", 129600),
    ("slurm", "2-00:30:00", 174600), ("pbs", "02:00:00", 7200), ("pbs", "90", 90), ("pbs", "10:00", 600),
    ("sge", "1:00:00", 3600), ("lsf", "04:00", 14400), ("lsf", "45", 2700),
])
def test_walltime_seconds(kind, text, seconds):
    assert C.walltime_seconds(text, kind) == seconds


# --------------------------------------------------------------------------- lookup


def test_user_profiles_override_shipped_and_dask_config_overrides_both(tmp_path, monkeypatch):
    user = tmp_path / "xdg" / "nmm" / "clusters"
    assert C.user_profile_dir() == user
    user.mkdir(parents=True)
    (user / "slurm.yaml").write_text("kind: slurm\ncores: 2\nmemory: 4GB\nqueue: mine\njobs: 1\n")
    (user / "big.yml").write_text("kind: pbs\ncores: 2\nmemory: 4GB\njobs: 3\n")
    assert load_profile("slurm").options["queue"] == "mine"
    assert load_profile("slurm").source == str(user / "slurm.yaml")
    assert load_profile("big").jobs == 3
    assert available_profiles()["big"] == str(user / "big.yml")
    with dask.config.set({"nmm.clusters.slurm": {"kind": "slurm", "cores": 1, "memory": "1GB", "jobs": 2,
                                                 "job-extra-directives": ["--qos=low"]}}):
        p = load_profile("slurm")
        assert (p.jobs, p.options["job_extra_directives"]) == (2, ["--qos=low"])
        assert p.source == "dask config nmm.clusters.slurm"
    # without XDG_CONFIG_HOME: ~/.config
    monkeypatch.delenv("XDG_CONFIG_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert C.user_profile_dir() == tmp_path / "home" / ".config" / "nmm" / "clusters"


def test_files_addresses_and_defaults(tmp_path):
    (tmp_path / "certs").mkdir()
    path = tmp_path / "site.yaml"
    path.write_text("address: tls://10.0.0.5:8786\nsecurity:\n  tls_ca_file: certs/ca.pem\n"
                    "  tls_cert: certs/me.pem\n  tls_key: certs/me.key\n")
    p = load_profile(str(path))
    assert (p.name, p.kind, p.address) == ("site", "address", "tls://10.0.0.5:8786")
    assert p.security == {"tls_ca_file": str(tmp_path / "certs/ca.pem"), "tls_cert": str(tmp_path / "certs/me.pem"),
                          "tls_key": str(tmp_path / "certs/me.key")}
    bare = load_profile("tcp://10.0.0.5:8786")
    assert (bare.kind, bare.address, bare.security) == ("address", "tcp://10.0.0.5:8786", None)
    assert load_profile(None) == load_profile("local")


def test_shipped_profiles_are_package_data():
    """Read through importlib.resources from the package, not from the repository's folders."""
    import importlib.resources

    folder = importlib.resources.files("sweeps.cluster") / "profiles"
    assert sorted(C.shipped_profiles()) == sorted(SHIPPED)
    assert {str(p) for p in C.shipped_profiles().values()} == {str(folder / f"{n}.yaml") for n in SHIPPED}
    assert not (ROOT / "cluster" / "slurm.yaml").exists()


# --------------------------------------------------------------------------- clients


def test_local_profile_client():
    with client_for({"kind": "local", "n_workers": 1}) as client:
        info = client.scheduler_info()
        assert client.scheduler.address.startswith("tcp://127.0.0.1:")
        (w,) = info["workers"].values()
        assert w["nthreads"] == 1
    assert client.status == "closed"


def test_unreachable_scheduler():
    with pytest.raises(OSError, match=r"cannot reach the scheduler at tcp://127\.0\.0\.1:9 within 1s"):
        with client_for({"kind": "address", "address": "tcp://127.0.0.1:9", "timeout": 1}):
            pass


def test_cli_reports_unknown_profile():
    from click.testing import CliRunner

    from sweeps.cli import cli

    res = CliRunner().invoke(cli, ["resume", "nowhere.zarr", "--cluster", "nope"])
    assert res.exit_code == 1
    assert "error: unknown cluster profile 'nope'; available: address, local, lsf" in res.output


# --------------------------------------------------------------------------- replacing ended jobs


class PublicCluster:
    """A stand-in jobqueue cluster with only the public API that resubmit.py may use.

    Any other attribute (``_correct_state``, ``workers``, ...) raises AttributeError, so a
    change back to dask's private API fails here.
    """

    def __init__(self, jobs: dict):
        from distributed.core import Status

        self.status = Status.running
        self.worker_spec = dict(jobs)
        self.scheduler_info = {"workers": {}}
        self.calls: list = []
        self.next_job = len(jobs)

    def connect(self, *names):
        self.scheduler_info = {"workers": {f"tcp://w{i}": {"name": n} for i, n in enumerate(names)}}

    async def scale_down(self, jobs):
        self.calls.append(("scale_down", sorted(jobs)))
        for j in jobs:
            del self.worker_spec[j]

    def scale(self, n=None, jobs=0):
        self.calls.append(("scale", jobs))
        while len(self.worker_spec) < jobs:
            self.worker_spec[f"J-{self.next_job}"] = {}
            self.next_job += 1


def test_job_keeper_replaces_ended_jobs_with_public_api(caplog):
    now = [0.0]
    cluster = PublicCluster({"J-0": {"group": ["-0", "-1"]}, "J-1": {"group": ["-0", "-1"]}, "J-2": {}})
    keeper = resubmit.JobKeeper(cluster, jobs=3, grace=10.0, clock=lambda: now[0])
    run = asyncio.run
    caplog.set_level(logging.WARNING, logger="sweeps.cluster.resubmit")

    cluster.connect("J-0-0", "J-0-1", "J-1-0")  # J-2 still queued: never connected
    run(keeper.check())
    assert cluster.calls == []
    cluster.connect("J-1-1")  # J-0 gone entirely, J-1 half gone (lifetime stagger)
    run(keeper.check())
    now[0] = 9.0
    run(keeper.check())
    assert cluster.calls == []  # not yet gone for the grace period
    now[0] = 10.0
    run(keeper.check())
    assert cluster.calls == [("scale_down", ["J-0"]), ("scale", 3)]
    assert sorted(cluster.worker_spec) == ["J-1", "J-2", "J-3"]
    assert "job J-0 of PublicCluster ended; submitting it again" in caplog.text
    now[0] = 100.0
    run(keeper.check())  # J-2 never connected: left alone; J-1 still has a worker
    assert len(cluster.calls) == 2


def test_job_keeper_adaptive_leaves_the_count_to_adaptive():
    now = [0.0]
    cluster = PublicCluster({"J-0": {}, "J-1": {}})
    keeper = resubmit.JobKeeper(cluster, jobs=None, grace=1.0, clock=lambda: now[0])
    cluster.connect("J-0", "J-1")
    asyncio.run(keeper.check())
    cluster.connect("J-1")
    asyncio.run(keeper.check())
    now[0] = 2.0
    asyncio.run(keeper.check())
    assert cluster.calls == [("scale_down", ["J-0"])]
    del cluster.worker_spec["J-1"]  # Adaptive scaled it down: forgotten
    asyncio.run(keeper.check())
    assert keeper.ended_jobs() == [] and cluster.calls == [("scale_down", ["J-0"])]


@pytest.mark.slow
def test_jobs_that_end_are_submitted_again(monkeypatch, caplog):
    """A jobqueue profile end to end, with dask-jobqueue's local 'batch system'.

    The job's worker retires after 2 s (--lifetime, as before a walltime); the job is
    submitted again and its new worker computes.
    """
    import operator

    monkeypatch.setitem(construct.CLUSTER_CLASSES, "slurm", ("dask_jobqueue.local", "LocalCluster"))
    monkeypatch.setattr(resubmit, "REPLACE_INTERVAL", 0.25)
    monkeypatch.setattr(resubmit, "REPLACE_GRACE", 0.5)
    profile = {"kind": "slurm", "cores": 1, "memory": "1GB", "processes": 1, "jobs": 1, "walltime": "00:10",
               "worker_extra_args": ["--lifetime", "2s", "--host", "127.0.0.1"],
               "scheduler_options": {"host": "127.0.0.1", "dashboard_address": ":0"}}
    caplog.set_level(logging.WARNING, logger="sweeps.cluster")
    with client_for(profile) as client:
        client.wait_for_workers(1, timeout=60)
        (first,) = client.scheduler_info()["workers"]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            now = client.scheduler_info()["workers"]
            if now and first not in now:
                break
            time.sleep(0.1)
        (second,) = now
        assert second != first
        assert client.submit(operator.add, 1, 2, pure=False).result(timeout=30) == 3
    assert "job LocalCluster-0 of LocalCluster ended; submitting it again" in caplog.text
