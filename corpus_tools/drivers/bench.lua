-- Runtime benchmark workload for the Lua interpreter (a harness, not corpus code).
-- usage: lua bench.lua [scale]
-- Recursion, closures, table construction and sorting, string building,
-- pattern matching and formatting; prints a digest of the results.
local scale = tonumber(arg and arg[1]) or 1
math.randomseed(42)

local function fib(n)
  if n < 2 then return n end
  return fib(n - 1) + fib(n - 2)
end

local function sieve(limit)
  local composite, count = {}, 0
  for i = 2, limit do
    if not composite[i] then
      count = count + 1
      for j = i * i, limit, i do composite[j] = true end
    end
  end
  return count
end

local function words(count)
  local parts = {}
  for i = 1, count do
    parts[#parts + 1] = string.format("w%05d", math.random(1, 99999))
  end
  return table.concat(parts, " ")
end

local function tally(text)
  local counts, distinct = {}, 0
  for word in text:gmatch("%a%d+") do
    local key = word:sub(1, 4)
    if not counts[key] then distinct = distinct + 1 end
    counts[key] = (counts[key] or 0) + 1
  end
  return distinct, counts
end

local function objects(count)
  local list = {}
  for i = 1, count do
    list[i] = {id = i, score = math.random() * 1000, name = "item" .. (i * 7919 % 1000)}
  end
  table.sort(list, function(a, b)
    if a.score ~= b.score then return a.score < b.score end
    return a.id < b.id
  end)
  local checksum = 0
  for i, item in ipairs(list) do checksum = (checksum * 31 + item.id + #item.name) % 1000000007 end
  return checksum
end

local function closures(count)
  local adders = {}
  for i = 1, count do adders[i] = function(x) return x + i end end
  local total = 0
  for round = 1, 20 do
    for i = 1, count do total = adders[i](total) % 1000003 end
  end
  return total
end

local results = {}
for round = 1, scale do
  results[#results + 1] = fib(24)
  results[#results + 1] = sieve(200000)
  local text = words(20000)
  local distinct = tally(text)
  results[#results + 1] = distinct
  results[#results + 1] = #text:gsub("w0", "W0")
  results[#results + 1] = objects(20000)
  results[#results + 1] = closures(2000)
end
print(table.concat(results, " "))
