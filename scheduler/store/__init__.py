"""PostgreSQL storage: tables, migrations, the embedded server and the queries."""
