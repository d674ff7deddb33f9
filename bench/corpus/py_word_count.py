from collections import Counter
import re

WORD = re.compile(r"[a-z']+")


def top_words(text, limit=10):
    words = WORD.findall(text.lower())
    counts = Counter(words)
    return counts.most_common(limit)


with open("book.txt") as handle:
    for word, count in top_words(handle.read(), limit=5):
        print(f"{word}: {
