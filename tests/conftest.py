import os

# Qt tests run headless: no display on CI.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
