pytest_plugins = ["tests.fixtures_pg", "tests.fixtures_rig"]
