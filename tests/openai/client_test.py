"""Wire compatibility with the official `openai` Python client (stream and non-stream).

Usage: python client_test.py BASE_URL TOKEN MODEL EMBEDDING_MODEL
Prints one line per check and exits non-zero on the first failure.
"""
import sys

import openai

base, token, model, emb_model = sys.argv[1:5]
client = openai.OpenAI(base_url=base + "/v1", api_key=token, max_retries=0)


def check(name, cond, detail=""):
    if not cond:
        print(f"FAIL {name} {detail}")
        sys.exit(1)
    print(f"ok {name}")


models = client.models.list()
ids = [m.id for m in models.data]
check("models.list", model in ids and emb_model in ids, ids)

msgs = [{"role": "system", "content": "Tu es un assistant médical."},
        {"role": "user", "content": "Résume le compte-rendu."}]
r1 = client.chat.completions.create(model=model, messages=msgs, max_tokens=12, seed=7,
                                    temperature=0.9, logprobs=True, top_logprobs=3)
c = r1.choices[0]
check("chat.non_stream", c.message.role == "assistant" and isinstance(c.message.content, str))
check("chat.usage", r1.usage.completion_tokens >= 1 and r1.usage.prompt_tokens > 5
      and r1.usage.total_tokens == r1.usage.prompt_tokens + r1.usage.completion_tokens)
check("chat.finish_reason", c.finish_reason in ("stop", "length"))
lp = c.logprobs.content
check("chat.logprobs", len(lp) == r1.usage.completion_tokens
      and all(t.logprob <= 0 and len(t.top_logprobs) == 3 for t in lp))
check("chat.top_logprobs_sorted", all(t.top_logprobs[0].logprob >= t.top_logprobs[1].logprob >= t.top_logprobs[2].logprob for t in lp))

r2 = client.chat.completions.create(model=model, messages=msgs, max_tokens=12, seed=7,
                                    temperature=0.9, logprobs=True, top_logprobs=3)
check("chat.seed_determinism", r2.choices[0].message.content == c.message.content)

stream = client.chat.completions.create(model=model, messages=msgs, max_tokens=12, seed=7,
                                        temperature=0.9, stream=True,
                                        stream_options={"include_usage": True})
parts, finish, usage = [], None, None
for chunk in stream:
    if chunk.usage:
        usage = chunk.usage
    for ch in chunk.choices:
        if ch.delta.content:
            parts.append(ch.delta.content)
        if ch.finish_reason:
            finish = ch.finish_reason
check("chat.stream_text", "".join(parts) == c.message.content, ("".join(parts), c.message.content))
check("chat.stream_finish", finish == c.finish_reason)
check("chat.stream_usage", usage is not None and usage.completion_tokens == r1.usage.completion_tokens)

comp = client.completions.create(model=model, prompt="Le patient", max_tokens=8, seed=3, temperature=0.7)
check("completions.non_stream", isinstance(comp.choices[0].text, str) and comp.usage.completion_tokens >= 1)
s = client.completions.create(model=model, prompt="Le patient", max_tokens=8, seed=3, temperature=0.7, stream=True)
text = "".join(ch.choices[0].text for ch in s if ch.choices)
check("completions.stream", text == comp.choices[0].text, (text, comp.choices[0].text))

stop = client.completions.create(model=model, prompt="Le patient", max_tokens=8, seed=3, temperature=0.7,
                                 stop=[comp.choices[0].text[2:4]] if len(comp.choices[0].text) >= 4 else None)
check("completions.stop", len(stop.choices[0].text) <= len(comp.choices[0].text))

emb = client.embeddings.create(model=emb_model, input=["douleur thoracique", "fièvre"])
vecs = [d.embedding for d in emb.data]
norms = [sum(x * x for x in v) ** 0.5 for v in vecs]
check("embeddings", len(vecs) == 2 and len(vecs[0]) > 0 and all(abs(n - 1) < 1e-3 for n in norms), norms)

try:
    client.chat.completions.create(model="no-such-model", messages=msgs)
    check("errors.unknown_model", False)
except openai.NotFoundError as e:
    check("errors.unknown_model", "unknown model" in str(e))
try:
    client.chat.completions.create(model=model, messages=msgs, temperature=5)
    check("errors.bad_temperature", False)
except openai.BadRequestError as e:
    check("errors.bad_temperature", "temperature" in str(e))
try:
    openai.OpenAI(base_url=base + "/v1", api_key="sgn_wrong", max_retries=0).models.list()
    check("errors.bad_token", False)
except openai.AuthenticationError:
    check("errors.bad_token", True)
print("all ok")
