# The entry point in the repository folder: `snakemake --cores all` here runs the workflow, whose
# definition is workflow/Snakefile (the Snakemake workflow catalog's layout; a deployed copy and a
# `module` use that file directly).


include: "workflow/Snakefile"


# An included file's default target does not carry over (Snakemake restores the including file's,
# here none): `rule all` stays the default.
workflow.default_target = "all"
