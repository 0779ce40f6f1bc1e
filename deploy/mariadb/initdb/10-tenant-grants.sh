#!/bin/bash
# Sourced once by the MariaDB image's entrypoint when it initialises an empty data
# directory (after MARIADB_USER and MARIADB_DATABASE exist).
#
# The tenants service creates and drops one database per tenant, named tenant_<slug>;
# MARIADB_USER only has privileges on MARIADB_DATABASE (the core database), so give
# it the tenant databases too - and nothing else on the server.
docker_process_sql --database=mysql <<-EOSQL
	GRANT ALL PRIVILEGES ON \`tenant\\_%\`.* TO '${MARIADB_USER}'@'%';
	FLUSH PRIVILEGES;
EOSQL
