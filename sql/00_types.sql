-- Types owned by the extension: the Slurm-style run status and the result of register()/claim_next().

CREATE TYPE pgtrack.runstatus AS ENUM (
    'BOOT_FAIL', 'CANCELLED', 'CONFIGURING', 'COMPLETED', 'COMPLETING', 'DEADLINE', 'FAILED',
    'NODE_FAIL', 'OUT_OF_MEMORY', 'PENDING', 'PREEMPTED', 'RESV_DEL_HOLD', 'REQUEUE_FED',
    'REQUEUE_HOLD', 'REQUEUED', 'RESIZING', 'REVOKED', 'RUNNING', 'SIGNALING', 'SPECIAL_EXIT',
    'STAGE_OUT', 'STOPPED', 'SUSPENDED', 'TIMEOUT'
);
COMMENT ON TYPE pgtrack.runstatus IS
    'Run status: the 24 Slurm job states, in the order of the SQLTrack documentation.';

CREATE TYPE pgtrack.registration AS (
    run_id       bigint,
    run_uuid     uuid,
    status       pgtrack.runstatus,
    attempt      integer,
    was_inserted boolean,
    was_updated  boolean,
    was_skipped  boolean
);
COMMENT ON TYPE pgtrack.registration IS
    'Result of pgtrack.register() and pgtrack.claim_next(). Field order is part of the API.';
