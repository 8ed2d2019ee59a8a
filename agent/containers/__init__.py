"""Finding the container a task names, so that its script runs in the container's namespaces.

``runtime.py`` is the one narrow interface (:class:`ContainerRuntime`: a container
by id or by name → its state and its first process's pid); ``docker.py`` speaks
Docker Engine's HTTP API on its unix socket, ``cri.py`` the Kubernetes CRI (containerd,
CRI-O) over gRPC; ``locate.py`` picks the runtime and applies Cloud Assistant's rules.
"""
