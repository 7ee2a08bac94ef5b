"""The report formats by name, and the module that renders each (kept light: the parser lists them)."""

# Format name -> module whose `render(report, style) -> str` writes it. Imported only when asked
# for, so a JSON run never loads rich and a text run never loads the XML writer.
RENDERER_MODULES = {
    "text": "mab_doctor.report.text",
    "json": "mab_doctor.report.jsonfmt",
    "junit": "mab_doctor.report.junit",
    "github": "mab_doctor.report.github",
    "markdown": "mab_doctor.report.markdown",
}
FORMATS = tuple(RENDERER_MODULES)
