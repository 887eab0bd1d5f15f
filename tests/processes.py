"""Fresh Python processes for the tests that need a TensorFlow of their own: two logical CPU
devices (``MirroredStrategy``, set before TensorFlow starts) or a loopback cluster of workers
(``MultiWorkerMirroredStrategy``, one process per worker, ``TF_CONFIG`` on 127.0.0.1).

A process reports by printing ``key value`` lines, which :func:`printed_pairs` reads back.
Every process runs under a timeout; a cluster whose worker fails or hangs is killed whole.
"""

import json
import os
import socket
import subprocess
import sys
import textwrap

#: Seconds a process (or a whole cluster) may run before it is killed and the test fails.
TIMEOUT = 900

_TWO_CPU_REPLICAS = """
import os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
"""


def printed_pairs(stdout):
    """``{key: value}`` from a process's output, one ``key value`` pair per line (both strings)."""
    return dict(line.split(" ", 1) for line in stdout.strip().splitlines())


def start_python(source, env=None):
    """Start ``python -c source`` (dedented), its output captured."""
    return start([sys.executable, "-c", textwrap.dedent(source)], env)


def start(argv, env=None):
    """Start ``argv`` with the environment ``os.environ`` updated by ``env``, output captured."""
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **(env or {})})


def finish(processes, timeout=TIMEOUT):
    """Wait for every process to end (killing them all if one exceeds ``timeout`` or fails: the
    others would wait for it forever); assert each ended with status 0; return their stdouts."""
    outputs = []
    try:
        for process in processes:
            stdout, stderr = process.communicate(timeout=timeout)
            assert process.returncode == 0, f"a process ended with status {process.returncode}:\n{stderr[-3000:]}"
            outputs.append(stdout)
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.communicate()
    return outputs


def run_with_two_cpu_replicas(script):
    """Run ``script`` in a fresh Python with ``strategy``, a MirroredStrategy over two logical CPU
    devices, already defined (logical devices must be set before TensorFlow starts, hence the
    subprocess); return what it printed as ``{key: value}``, one ``key value`` pair per line."""
    (stdout,) = finish([start_python(_TWO_CPU_REPLICAS + textwrap.dedent(script))])
    return printed_pairs(stdout)


def two_cpu_replicas_process(script):
    """:func:`run_with_two_cpu_replicas`, started and not waited for (``finish`` it)."""
    return start_python(_TWO_CPU_REPLICAS + textwrap.dedent(script))


def free_ports(count):
    """``count`` distinct TCP ports on 127.0.0.1 that were free a moment ago (bound to port 0
    together, so the system hands out different ones)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for each in sockets:
            each.bind(("127.0.0.1", 0))
        return [each.getsockname()[1] for each in sockets]
    finally:
        for each in sockets:
            each.close()


def loopback_tf_configs(num_workers=2):
    """One ``TF_CONFIG`` value per worker of a cluster on 127.0.0.1 (worker 0 is the chief)."""
    cluster = {"worker": [f"127.0.0.1:{port}" for port in free_ports(num_workers)]}
    return [json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})
            for index in range(num_workers)]


def start_cluster(argv, num_workers=2):
    """Start ``argv`` once per worker of a loopback cluster, each with its ``TF_CONFIG``."""
    return [start(argv, {"TF_CONFIG": config}) for config in loopback_tf_configs(num_workers)]
