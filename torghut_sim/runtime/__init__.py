"""Runtime control of one simulation: lock, Argo CD freeze, TA and Knative patches, readiness, restore.

Every mutation of the cluster made here is captured first (`capture`), applied with guarded patches and
restored from the captured state alone (`restore`), so a crashed run can always be cleaned up.
"""
