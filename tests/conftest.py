"Shared pytest configuration for the integration tests."


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "browser: needs Debian's chromium (/usr/bin/chromium or $CTML_CHROMIUM), Playwright and JupyterLab; "
        "skipped with the reason otherwise",
    )
