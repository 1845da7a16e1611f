# Thin on purpose: the whole engine lives in the chatconform package.
pytest_plugins = ["chatconform.plugin"]
