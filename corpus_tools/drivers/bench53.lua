-- Runtime benchmark workload for Lua 5.3 and later (a harness, not corpus code).
-- usage: lua bench53.lua [scale]
-- Floating-point simulation (n-body), integer bit operations (a hash), metatables
-- and method dispatch, coroutines, string.pack/unpack, utf8, pattern substitution
-- and a queue; its own generator (not math.random, whose algorithm differs
-- between Lua versions) feeds them; prints a digest of the results.
local scale = tonumber(arg and arg[1]) or 1
local seed = 12345
local function rand(n)
  seed = (seed * 1103515245 + 12345) & 0x7fffffff
  return seed % n
end

local function nbody(steps)
  local bodies = {}
  for i = 1, 5 do
    bodies[i] = {x = rand(100) - 50.0, y = rand(100) - 50.0, z = rand(100) - 50.0,
                 vx = 0.0, vy = 0.0, vz = 0.0, mass = 1.0 + rand(10)}
  end
  local dt = 0.01
  for _ = 1, steps do
    for i = 1, #bodies do
      local a = bodies[i]
      for j = i + 1, #bodies do
        local b = bodies[j]
        local dx, dy, dz = a.x - b.x, a.y - b.y, a.z - b.z
        local d2 = dx * dx + dy * dy + dz * dz + 0.01
        local mag = dt / (d2 * math.sqrt(d2))
        a.vx, a.vy, a.vz = a.vx - dx * b.mass * mag, a.vy - dy * b.mass * mag, a.vz - dz * b.mass * mag
        b.vx, b.vy, b.vz = b.vx + dx * a.mass * mag, b.vy + dy * a.mass * mag, b.vz + dz * a.mass * mag
      end
    end
    for _, b in ipairs(bodies) do
      b.x, b.y, b.z = b.x + dt * b.vx, b.y + dt * b.vy, b.z + dt * b.vz
    end
  end
  local e = 0.0
  for _, b in ipairs(bodies) do e = e + 0.5 * b.mass * (b.vx * b.vx + b.vy * b.vy + b.vz * b.vz) end
  return string.format("%.6f", e)
end

local function fnv(count)
  local h = 0xcbf29ce484222325
  for i = 1, count do
    h = (h ~ (i & 0xff)) * 0x100000001b3
    h = h ~ (h >> 29)
  end
  return string.format("%x", h)
end

local Vec = {}
Vec.__index = Vec
function Vec.new(x, y) return setmetatable({x = x, y = y}, Vec) end
function Vec.__add(a, b) return Vec.new(a.x + b.x, a.y + b.y) end
function Vec:dot(o) return self.x * o.x + self.y * o.y end
local function vectors(count)
  local acc, total = Vec.new(0, 0), 0
  for i = 1, count do
    local v = Vec.new(rand(21) - 10, rand(21) - 10)
    acc = acc + v
    total = (total + acc:dot(v)) % 1000003
  end
  return total
end

local function generators(count)
  local producer = coroutine.wrap(function()
    for i = 1, count do coroutine.yield(i * i % 977) end
    coroutine.yield(nil)
  end)
  local total = 0
  for value in producer do total = total + value end
  return total
end

local function packing(count)
  local parts = {}
  for i = 1, count do parts[i] = string.pack("<i4d s1", i, i / 7, "k" .. (i % 100)) end
  local blob, total, pos = table.concat(parts), 0, 1
  for _ = 1, count do
    local n, d, s, next_pos = string.unpack("<i4d s1", blob, pos)
    total, pos = total + n + math.floor(d) + #s, next_pos
  end
  return total
end

local function text(count)
  local words = {}
  for i = 1, count do words[i] = utf8.char(0x3b1 + rand(24), 0x61 + rand(26), 0x430 + rand(32)) end
  local line = table.concat(words, " ")
  local replaced, n = line:gsub("(%S+) (%S+)", "%2-%1")
  local codepoints = 0
  for _, c in utf8.codes(replaced) do codepoints = codepoints + c % 7 end
  return n + utf8.len(line) + codepoints
end

local function queue(count)
  local items, checksum = {}, 0
  for i = 1, count do
    table.insert(items, i)
    if i % 3 == 0 then checksum = (checksum * 31 + table.remove(items, 1)) % 1000000007 end
  end
  return checksum + #items
end

local results = {}
for _ = 1, scale do
  results[#results + 1] = nbody(20000)
  results[#results + 1] = fnv(300000)
  results[#results + 1] = vectors(100000)
  results[#results + 1] = generators(100000)
  results[#results + 1] = packing(50000)
  results[#results + 1] = text(20000)
  results[#results + 1] = queue(6000)
end
print(table.concat(results, " "))
