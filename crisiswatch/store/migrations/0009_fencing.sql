-- Fencing tokens. A lease's `generation` grows by one each time another holder takes it (a released lease
-- keeps its row, holder '', so the count never starts again), and a playbook step records the generation
-- of the lease it was taken under (`fence`; NULL: taken without one, by hand). A run loop whose lease a
-- standby took while it stalled inside a step finds its generation old before the step's side effect and
-- stops, and its late write of the step is refused: the standby's record stands.

ALTER TABLE leases ADD COLUMN generation INTEGER NOT NULL DEFAULT 1;
ALTER TABLE playbook_runs ADD COLUMN fence INTEGER;
