"""The pipeline's plumbing: what runs after what (routing), the transactional outbox and its
relay, the task-queue port, and stage leases that let the beat resume a stage whose worker died.
"""
