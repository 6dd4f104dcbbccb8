"""Hand-written reference solutions (function bodies, completing each PL's prompt) of the
HumanEval problems that need a helper function in the prompt (10) or the union and Any types
(22, 103, 125, 137): ``test_humaneval.py`` runs them through the engine in every PL here, so
each PL's prompt types, literals and harness for those types are shown to work with a real
solution, not only with a dummy body. task_id -> PL -> body."""

_RUST = {
    "HumanEval/10": """\
    let mut i = 0;
    while !is_palindrome(&string[i..]) {
        i += 1;
    }
    let prefix: String = string[..i].chars().rev().collect();
    string.clone() + &prefix
""",
    "HumanEval/22": """\
    values.iter().filter_map(|v| v.downcast_ref::<i64>().copied()).collect()
""",
    "HumanEval/103": """\
    if m < n {
        return StrOrInt::Int(-1);
    }
    let s = n + m;
    let mut q = s / 2;
    if s % 2 == 1 && q % 2 == 1 {
        q += 1; // half to even, as Python's round
    }
    StrOrInt::Str(format!("0b{:b}", q))
""",
    "HumanEval/125": """\
    if txt.contains(' ') {
        return ListOrInt::List(txt.split_whitespace().map(String::from).collect());
    }
    if txt.contains(',') {
        return ListOrInt::List(txt.split(',').map(String::from).collect());
    }
    ListOrInt::Int(txt.chars().filter(|c| c.is_ascii_lowercase() && (*c as u32) % 2 == 0).count() as i64)
""",
    "HumanEval/137": """\
    fn value(v: &IntOrFloatOrStr) -> f64 {
        match v {
            IntOrFloatOrStr::Int(i) => *i as f64,
            IntOrFloatOrStr::Float(f) => *f,
            IntOrFloatOrStr::Str(s) => s.replace(',', ".").parse().unwrap(),
        }
    }
    let (x, y) = (value(&a), value(&b));
    if x == y {
        None
    } else if x > y {
        Some(a)
    } else {
        Some(b)
    }
""",
}

_GO = {
    "HumanEval/10": """\
	i := 0
	for !is_palindrome(string_[i:]) {
		i++
	}
	r := []rune(string_[:i])
	for a, b := 0, len(r)-1; a < b; a, b = a+1, b-1 {
		r[a], r[b] = r[b], r[a]
	}
	return string_ + string(r)
""",
    "HumanEval/22": """\
	out := []int{}
	for _, v := range values {
		if x, ok := v.(int); ok {
			out = append(out, x)
		}
	}
	return out
""",
    "HumanEval/103": """\
	if m < n {
		return -1
	}
	avg := int(math.RoundToEven(float64(n+m) / 2))
	return "0b" + strconv.FormatInt(int64(avg), 2)
""",
    "HumanEval/125": """\
	if strings.Contains(txt, " ") {
		return strings.Fields(txt)
	}
	if strings.Contains(txt, ",") {
		return strings.Split(txt, ",")
	}
	count := 0
	for _, c := range txt {
		if unicode.IsLower(c) && int(c)%2 == 0 {
			count++
		}
	}
	return count
""",
    "HumanEval/137": """\
	value := func(v interface{}) float64 {
		switch x := v.(type) {
		case int:
			return float64(x)
		case float64:
			return x
		case string:
			f, _ := strconv.ParseFloat(strings.ReplaceAll(x, ",", "."), 64)
			return f
		}
		panic("not a number")
	}
	x, y := value(a), value(b)
	if x == y {
		return nil
	}
	if x > y {
		return a
	}
	return b
""",
}

_JAVA = {
    "HumanEval/10": """\
        int i = 0;
        while (!is_palindrome(string.substring(i))) {
            i++;
        }
        return string + new StringBuilder(string.substring(0, i)).reverse().toString();""",
    "HumanEval/22": """\
        ArrayList<Long> out = new ArrayList<Long>();
        for (Object v : values) {
            if (v instanceof Long x) {
                out.add(x);
            }
        }
        return out;""",
    "HumanEval/103": """\
        if (m < n) {
            return -1L;
        }
        long avg = Math.round(Math.rint((n + m) / 2.0));
        return "0b" + Long.toBinaryString(avg);""",
    "HumanEval/125": """\
        if (txt.contains(" ")) {
            return new ArrayList<String>(Arrays.asList(txt.trim().split("\\\\s+")));
        }
        if (txt.contains(",")) {
            return new ArrayList<String>(Arrays.asList(txt.split(",")));
        }
        long count = 0;
        for (char c : txt.toCharArray()) {
            if (Character.isLowerCase(c) && c % 2 == 0) {
                count++;
            }
        }
        return count;""",
    "HumanEval/137": """\
        double x = value(a), y = value(b);
        if (x == y) {
            return Optional.empty();
        }
        return Optional.of(x > y ? a : b);
    }
    private static double value(Object v) {
        if (v instanceof String s) {
            return Double.parseDouble(s.replace(',', '.'));
        }
        return ((Number) v).doubleValue();""",
}

_CSHARP = {
    "HumanEval/10": """\
        int i = 0;
        while (!is_palindrome(string_.Substring(i))) {
            i++;
        }
        char[] prefix = string_.Substring(0, i).ToCharArray();
        Array.Reverse(prefix);
        return string_ + new string(prefix);""",
    "HumanEval/22": """\
        return values.OfType<long>().ToList();""",
    "HumanEval/103": """\
        if (m < n) {
            return -1L;
        }
        long avg = (long)Math.Round((n + m) / 2.0, MidpointRounding.ToEven);
        return "0b" + Convert.ToString(avg, 2);""",
    "HumanEval/125": """\
        if (txt.Contains(" ")) {
            return txt.Split(new char[] { ' ' }, StringSplitOptions.RemoveEmptyEntries).ToList();
        }
        if (txt.Contains(",")) {
            return txt.Split(',').ToList();
        }
        return (long)txt.Count(c => char.IsLower(c) && c % 2 == 0);""",
    "HumanEval/137": """\
        Func<object, double> value = v => v is string s ? double.Parse(s.Replace(',', '.'), System.Globalization.CultureInfo.InvariantCulture) : Convert.ToDouble(v);
        double x = value(a), y = value(b);
        if (x == y) {
            return null;
        }
        return x > y ? a : b;""",
}

_CPP = {
    "HumanEval/10": """\
    std::size_t i = 0;
    while (!is_palindrome(string.substr(i))) {
        i++;
    }
    std::string prefix = string.substr(0, i);
    return string + std::string(prefix.rbegin(), prefix.rend());""",
    "HumanEval/22": """\
    std::vector<long> out;
    for (const std::any& v : values) {
        if (v.type() == typeid(long)) {
            out.push_back(std::any_cast<long>(v));
        }
    }
    return out;""",
    "HumanEval/103": """\
    if (m < n) {
        return -1L;
    }
    long avg = std::lrint((n + m) / 2.0);  // the default rounding: half to even
    std::string bits;
    for (; avg > 0; avg /= 2) {
        bits.insert(bits.begin(), char('0' + avg % 2));
    }
    return "0b" + (bits.empty() ? std::string("0") : bits);""",
    "HumanEval/125": """\
    if (txt.find(' ') != std::string::npos || txt.find(',') != std::string::npos) {
        char sep = txt.find(' ') != std::string::npos ? ' ' : ',';
        std::vector<std::string> words;
        std::stringstream in(txt);
        std::string word;
        while (std::getline(in, word, sep)) {
            if (!word.empty() || sep == ',') {
                words.push_back(word);
            }
        }
        return words;
    }
    long count = 0;
    for (char c : txt) {
        if (std::islower(static_cast<unsigned char>(c)) && c % 2 == 0) {
            count++;
        }
    }
    return count;""",
    "HumanEval/137": """\
    auto value = [](const std::variant<long, double, std::string>& v) -> double {
        if (std::holds_alternative<long>(v)) return std::get<long>(v);
        if (std::holds_alternative<double>(v)) return std::get<double>(v);
        std::string s = std::get<std::string>(v);
        std::replace(s.begin(), s.end(), ',', '.');
        return std::stod(s);
    };
    double x = value(a), y = value(b);
    if (x == y) {
        return std::nullopt;
    }
    return x > y ? a : b;""",
}

_JAVASCRIPT = {
    "HumanEval/10": """\
  let i = 0;
  while (!is_palindrome(string.slice(i))) {
    i++;
  }
  return string + string.slice(0, i).split("").reverse().join("");""",
    "HumanEval/22": """\
  return values.filter((x) => typeof x === "number" && Number.isInteger(x));""",
    "HumanEval/103": """\
  if (m < n) {
    return -1;
  }
  const s = n + m;
  let avg = Math.floor(s / 2);
  if (s % 2 === 1 && avg % 2 === 1) {
    avg += 1;
  }
  return "0b" + avg.toString(2);""",
    "HumanEval/125": """\
  if (txt.includes(" ")) {
    return txt.split(/\\s+/).filter((w) => w.length > 0);
  }
  if (txt.includes(",")) {
    return txt.split(",");
  }
  return txt.split("").filter((c) => c >= "a" && c <= "z" && c.charCodeAt(0) % 2 === 0).length;""",
    "HumanEval/137": """\
  const value = (v) => (typeof v === "string" ? parseFloat(v.replace(",", ".")) : v);
  const x = value(a), y = value(b);
  if (x === y) {
    return undefined;
  }
  return x > y ? a : b;""",
}
_TYPESCRIPT = dict(_JAVASCRIPT)
_TYPESCRIPT["HumanEval/137"] = _JAVASCRIPT["HumanEval/137"].replace("(v) =>", "(v: number | string): number =>")

_PHP = {
    "HumanEval/10": """\
    $i = 0;
    while (!is_palindrome(substr($string, $i))) {
        $i++;
    }
    return $string . strrev(substr($string, 0, $i));""",
    "HumanEval/22": """\
    return array_values(array_filter($values, 'is_int'));""",
    "HumanEval/103": """\
    if ($m < $n) {
        return -1;
    }
    return '0b' . decbin((int) round(($n + $m) / 2, 0, PHP_ROUND_HALF_EVEN));""",
    "HumanEval/125": """\
    if (strpos($txt, ' ') !== false) {
        return preg_split('/\\\\s+/', $txt, -1, PREG_SPLIT_NO_EMPTY);
    }
    if (strpos($txt, ',') !== false) {
        return explode(',', $txt);
    }
    $count = 0;
    foreach (str_split($txt) as $c) {
        if (ctype_lower($c) && ord($c) % 2 == 0) {
            $count++;
        }
    }
    return $count;""",
    "HumanEval/137": """\
    $x = is_string($a) ? (float) str_replace(',', '.', $a) : $a;
    $y = is_string($b) ? (float) str_replace(',', '.', $b) : $b;
    if ($x == $y) {
        return null;
    }
    return $x > $y ? $a : $b;""",
}
_RUBY = {
    "HumanEval/10": """\
  i = 0
  i += 1 until is_palindrome(string[i..])
  string + string[0...i].reverse""",
    "HumanEval/22": """\
  values.select { |x| x.is_a?(Integer) }""",
    "HumanEval/103": """\
  return -1 if m < n
  "0b" + ((n + m) / 2.0).round(half: :even).to_s(2)""",
    "HumanEval/125": """\
  return txt.split if txt.include?(" ")
  return txt.split(",") if txt.include?(",")
  txt.chars.count { |c| c =~ /[a-z]/ && c.ord.even? }""",
    "HumanEval/137": """\
  value = ->(v) { v.is_a?(String) ? v.tr(",", ".").to_f : v }
  x, y = value.(a), value.(b)
  return nil if x == y
  x > y ? a : b""",
}
_LUA = {
    "HumanEval/10": """\
  local i = 1
  while not is_palindrome(string:sub(i)) do
    i = i + 1
  end
  return string .. string:sub(1, i - 1):reverse()
end""",
    "HumanEval/22": """\
  local out = {}
  for _, v in ipairs(values) do
    if math.type(v) == "integer" then
      table.insert(out, v)
    end
  end
  return out
end""",
    "HumanEval/103": """\
  if m < n then
    return -1
  end
  local s = n + m
  local avg = s // 2
  if s % 2 == 1 and avg % 2 == 1 then
    avg = avg + 1
  end
  local bits = ""
  while avg > 0 do
    bits = tostring(avg % 2) .. bits
    avg = avg // 2
  end
  return "0b" .. (bits == "" and "0" or bits)
end""",
    "HumanEval/125": """\
  local words = {}
  local sep = txt:find(" ") and "%S+" or (txt:find(",") and "[^,]+" or nil)
  if sep then
    for w in txt:gmatch(sep) do
      table.insert(words, w)
    end
    return words
  end
  local count = 0
  for c in txt:gmatch("%l") do
    if c:byte() % 2 == 0 then
      count = count + 1
    end
  end
  return count
end""",
    "HumanEval/137": """\
  local function value(v)
    if type(v) == "string" then
      return tonumber((v:gsub(",", ".")))
    end
    return v
  end
  local x, y = value(a), value(b)
  if x == y then
    return nil
  end
  if x > y then
    return a
  end
  return b
end""",
}


_BY_PL = {
    "rust": _RUST,
    "go": _GO,
    "php": _PHP,
    "ruby": _RUBY,
    "java": _JAVA,
    "javascript": _JAVASCRIPT,
    "typescript": _TYPESCRIPT,
    "cpp": _CPP,
    "csharp": _CSHARP,
    "lua": _LUA,
}

REFERENCES: dict[str, dict[str, str]] = {
    task: {pl: bodies[task] for pl, bodies in _BY_PL.items()} for task in _RUST
}
