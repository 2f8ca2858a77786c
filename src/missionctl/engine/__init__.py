"""The durable engine: the job queue, workers, the scheduler and cron schedules."""
