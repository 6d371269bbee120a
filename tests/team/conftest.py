from tests.pg import pg_cluster  # noqa: F401 - the session's throwaway PostgreSQL cluster
