"""Chat as play dialogue, so that a small Shakespeare LM can take part: the visitor speaks as ROMEO, the model
answers as JULIET. Plain text functions (no Gradio, no tensors): `chat_prompt` frames the conversation within the
model's context, `end_of_speech` says where the model's reply ends.

    >>> end_of_speech("Good night!\\n\\nROMEO:\\nStay.")
    ('Good night!', True)
"""

import re

USER_SPEAKER = "ROMEO"
MODEL_SPEAKER = "JULIET"


def content_text(content) -> str:
    """A Gradio chat message's content as plain text (a string, or a list of parts in Gradio 6)."""
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        return str(content.get("text") or content.get("content") or "")
    if isinstance(content, (list, tuple)):
        return "\n".join(content_text(c) for c in content)
    return ""


def _speech(text: str) -> str:
    """One speech: the lines of a message, trimmed, with no blank line inside (a blank line ends a speech)."""
    return "\n".join(line.strip() for line in text.strip().splitlines() if line.strip())


def count_tokens(m, text: str) -> int:
    """Tokens of `text` in the model's own tokenizer (characters without one)."""
    tokenizer = getattr(m, "tokenizer", None)
    if tokenizer is not None and hasattr(tokenizer, "encode"):
        return len(tokenizer.encode(text))
    return len(text)


def _framed(speech: str) -> str:
    """The current message as the last speech, and the model's speaker line after it."""
    return f"{USER_SPEAKER}:\n{speech}\n\n{MODEL_SPEAKER}:\n"


def _end_that_fits(m, speech: str, budget: int) -> str:
    """The longest end of `speech` whose framed prompt takes at most `budget` tokens, from a word's start."""
    low, high = 0, len(speech)  # the smallest start that fits (fewer characters never take more tokens)
    while low < high:
        middle = (low + high) // 2
        if count_tokens(m, _framed(speech[middle:])) <= budget:
            high = middle
        else:
            low = middle + 1
    gap = re.search(r"\s+", speech[low:]) if low and not speech[low - 1].isspace() else None
    if gap and gap.end() < len(speech) - low:  # not in the middle of a word
        low += gap.end()
    return speech[low:].lstrip()


def chat_prompt(m, message: str, history: list | None, max_new_tokens: int) -> str:
    """The conversation as play dialogue, ending with the model's speaker line:

        ROMEO:\\n<older message>\\n\\nJULIET:\\n<older reply>\\n\\nROMEO:\\n<message>\\n\\nJULIET:\\n

    The prompt fits the model's context less room for the reply (at least half the context):
    only the most recent turns that fit are kept, and a message longer than that alone keeps its end (the words
    just before the reply) behind its speaker line.
    """
    speeches = []
    for turn in history or []:
        if not isinstance(turn, dict):
            continue
        text = _speech(content_text(turn.get("content")))
        if text:
            speaker = USER_SPEAKER if turn.get("role") == "user" else MODEL_SPEAKER
            speeches.append(f"{speaker}:\n{text}\n")
    context = int(getattr(m, "context_length", 256))
    budget = max(context // 2, context - max_new_tokens) - 1
    current = _framed(_speech(message))
    used = count_tokens(m, current)
    if used > budget:
        current = _framed(_end_that_fits(m, _speech(message), budget))
        used = count_tokens(m, current)
    kept = []
    for speech in reversed(speeches):
        cost = count_tokens(m, speech + "\n")
        if used + cost > budget:
            break
        kept.append(speech)
        used += cost
    return "".join(s + "\n" for s in reversed(kept)) + current


_SPEAKER_LINE = re.compile(r"(?:^|\n)[ \t]*[A-Z][A-Za-z'.-]*(?: [A-Z][A-Za-z'.-]*){0,3}:[ \t]*\n")


def end_of_speech(text: str) -> tuple[str, bool]:
    """The reply up to its natural end (a blank line, or the next `NAME:` line) and whether it has ended."""
    cut = len(text)
    blank = text.find("\n\n")
    if blank >= 0:
        cut = blank
    speaker = _SPEAKER_LINE.search(text)
    if speaker and speaker.start() < cut:
        cut = speaker.start()
    return text[:cut], cut < len(text)
