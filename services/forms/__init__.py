"""The forms service (issue 11). Its portable core, the engine, lives in ``services.forms.engine``."""
