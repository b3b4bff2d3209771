/** The page the dashboard serves in this release: a short notice pointing at the API. */
export const PLACEHOLDER_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Tollgate dashboard</title>
<style>
  body { font: 16px/1.5 system-ui, sans-serif; max-width: 40rem; margin: 4rem auto; padding: 0 1rem; color: #1f2328; }
  code { background: #f3f4f6; padding: 0.1rem 0.3rem; border-radius: 4px; }
</style>
</head>
<body>
<h1>Tollgate</h1>
<p>The gateway is running. The dashboard's screens (usage, keys, members, billing, audit) arrive in a later release of <code>@tollgate/dashboard</code>.</p>
<p>Until then, call the OpenAI-compatible API at <code>/v1/chat/completions</code> or the Anthropic-compatible API at <code>/v1/messages</code> with an API key.</p>
</body>
</html>
`
