-- The one wrk script of the bench: `wrk -s bench/wrk.lua URL -- MODE ARGS...`
--
--   plain                          the URL as is (GET /health)
--   bearer PATH TOKEN_FILE         GET PATH, cycling over the access tokens of TOKEN_FILE
--   refresh TOKEN_FILE THREADS     POST /auth/refresh, each request a token never used before:
--                                  starts from this thread's share of TOKEN_FILE (unused,
--                                  pre-made tokens), then presents the token each answer returns
--   mfa PAIRS_FILE THREADS         POST /auth/mfa/verify, each request a pair never used before
--                                  ("mfa_token recovery_code" lines): this thread's share
--   login USERS PASSWORD           POST /auth/login as user00001..USERS@bench.example in turn
--   forgot USERS KIND              POST /auth/forgot-password for user00001..USERS@bench.example
--                                  (KIND=known) or nobody00001..@bench.example (KIND=unknown)
--   form PATH AUTHORIZATION FILE   POST PATH with this Authorization header, cycling over the
--                                  form bodies of FILE, one a line (introspection, and the
--                                  client credentials grant)
--
-- done() prints one line, "BENCH_JSON {...}", that bench/run.py reads.

local counter = 0

function setup(thread)
   thread:set("id", counter)
   counter = counter + 1
end

local function lines(path)
   local found = {}
   for line in io.lines(path) do
      if #line > 0 then
         found[#found + 1] = line
      end
   end
   return found
end

local function cycle(requests)
   local index = 0
   local count = #requests
   return function()
      index = index % count + 1
      return requests[index]
   end
end

local function bearer(path, token_file)
   local requests = {}
   for _, token in ipairs(lines(token_file)) do
      requests[#requests + 1] = wrk.format("GET", path, { ["Authorization"] = "Bearer " .. token })
   end
   request = cycle(requests)
end

local function refresh(token_file, threads)
   local pool = {}
   for index, token in ipairs(lines(token_file)) do
      if (index - 1) % threads == id then
         pool[#pool + 1] = token
      end
   end
   local headers = { ["Content-Type"] = "application/json" }
   request = function()
      -- Last in, first out: the freshest token (the one an answer just returned) goes first.
      local token = table.remove(pool) or "pool-exhausted"
      return wrk.format("POST", "/auth/refresh", headers, '{"refresh_token":"' .. token .. '"}')
   end
   response = function(status, _, body)
      if status == 200 then
         local token = body:match('"refresh_token":"([^"]+)"')
         if token then
            pool[#pool + 1] = token
         end
      end
   end
end

local function mfa(pairs_file, threads)
   local pool = {}
   for index, line in ipairs(lines(pairs_file)) do
      if (index - 1) % threads == id then
         pool[#pool + 1] = line
      end
   end
   local headers = { ["Content-Type"] = "application/json" }
   request = function()
      local line = table.remove(pool) or "pool-exhausted pool-exhausted"
      local token, code = line:match("(%S+) (%S+)")
      local body = '{"mfa_token":"' .. token .. '","recovery_code":"' .. code .. '"}'
      return wrk.format("POST", "/auth/mfa/verify", headers, body)
   end
end

local function login(users, password)
   local requests = {}
   local headers = { ["Content-Type"] = "application/x-www-form-urlencoded" }
   -- Each thread starts at another user, so that threads do not log in the same users in step.
   for index = 1, users do
      local user = (index + id * 7919) % users + 1
      local body = string.format("username=user%05d%%40bench.example&password=%s", user, password)
      requests[#requests + 1] = wrk.format("POST", "/auth/login", headers, body)
   end
   request = cycle(requests)
end

local function forgot(users, kind)
   local requests = {}
   local headers = { ["Content-Type"] = "application/json" }
   local name = kind == "known" and "user" or "nobody"
   for index = 1, users do
      local user = (index + id * 7919) % users + 1
      local body = string.format('{"email":"%s%05d@bench.example"}', name, user)
      requests[#requests + 1] = wrk.format("POST", "/auth/forgot-password", headers, body)
   end
   request = cycle(requests)
end

local function form(path, authorization, body_file)
   local requests = {}
   local headers = {
      ["Content-Type"] = "application/x-www-form-urlencoded",
      ["Authorization"] = authorization,
   }
   for _, body in ipairs(lines(body_file)) do
      requests[#requests + 1] = wrk.format("POST", path, headers, body)
   end
   request = cycle(requests)
end

function init(args)
   local mode = args[1] or "plain"
   if mode == "bearer" then
      bearer(args[2], args[3])
   elseif mode == "refresh" then
      refresh(args[2], tonumber(args[3]))
   elseif mode == "mfa" then
      mfa(args[2], tonumber(args[3]))
   elseif mode == "login" then
      login(tonumber(args[2]), args[3])
   elseif mode == "forgot" then
      forgot(tonumber(args[2]), args[3])
   elseif mode == "form" then
      form(args[2], args[3], args[4])
   elseif mode ~= "plain" then
      error("unknown mode " .. mode)
   end
end

function done(summary, latency, _)
   local errors = summary.errors
   io.write(string.format(
      'BENCH_JSON {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"max_us":%d,'
         .. '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}}\n',
      summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
      latency.max, errors.connect, errors.read, errors.write, errors.status, errors.timeout
   ))
end
