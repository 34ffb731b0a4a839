"""The job domain: records, the lifecycle that alone moves them, leases, options, results."""
