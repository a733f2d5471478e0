"""The PT's web app (`dowel app`): a second face on the host library, beside the CLI.

Modules: `server` (the pages and routes), `security` (the token, Origin and Host gate),
`jobs` (long operations in threads, with questions and progress), `work` (what each job does,
with the library's workflows), `templates/` and `static/` (the HTML and the little JavaScript).
"""
