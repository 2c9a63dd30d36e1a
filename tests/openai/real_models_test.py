"""The real models (SmolLM2-135M-Instruct, gemma-3-270m) through the official `openai` client.

Usage: python real_models_test.py BASE_URL TOKEN CHAT_MODEL BASE_MODEL
Checks that the instruction model answers a factual question correctly (stream and non-stream
give the same greedy answer), that the base model continues a sentence sensibly, and that the
listed models carry their licences. Prints one line per check and exits non-zero on a failure.
"""
import sys

import openai

base, token, chat_model, base_model = sys.argv[1:5]
client = openai.OpenAI(base_url=base + "/v1", api_key=token, max_retries=0)


def check(name, cond, detail=""):
    if not cond:
        print(f"FAIL {name} {detail!r}")
        sys.exit(1)
    print(f"ok {name} {detail!r}")


models = {m.id: m for m in client.models.list().data}
check("models.list", chat_model in models and base_model in models, list(models))
licences = {k: (m.model_extra or {}).get("siagen", {}).get("license") for k, m in models.items()}
check("licences", licences.get(chat_model) == "apache-2.0" and licences.get(base_model) == "gemma",
      licences)

question = [{"role": "user", "content": "What is the capital of France? Answer in one word."}]
r = client.chat.completions.create(model=chat_model, messages=question, max_tokens=16,
                                   temperature=0)
answer = r.choices[0].message.content
check("chat.capital", "paris" in answer.lower(), answer)
check("chat.usage", r.usage.completion_tokens > 0 and r.usage.prompt_tokens > 5, r.usage)

stream = client.chat.completions.create(model=chat_model, messages=question, max_tokens=16,
                                        temperature=0, stream=True)
streamed = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
check("chat.stream_equals_non_stream", streamed == answer, streamed)

arith = [{"role": "user", "content": "What is 2 + 2? Answer with a number."}]
r = client.chat.completions.create(model=chat_model, messages=arith, max_tokens=12, temperature=0)
check("chat.arithmetic", "4" in r.choices[0].message.content, r.choices[0].message.content)

# The base model continues text: a question-answer layout makes it answer.
c = client.completions.create(model=base_model, max_tokens=6, temperature=0,
                              prompt="Question: What is the capital of France?\nAnswer:")
check("completion.capital", "paris" in c.choices[0].text.lower(), c.choices[0].text)
c = client.completions.create(model=base_model, max_tokens=6, temperature=0,
                              prompt="Question : Quelle est la capitale de la France ?\nRéponse :")
check("completion.french", "paris" in c.choices[0].text.lower(), c.choices[0].text)
stream = client.completions.create(model=base_model, max_tokens=6, temperature=0, stream=True,
                                   prompt="Question: What is the capital of France?\nAnswer:")
streamed = "".join(x.choices[0].text for x in stream if x.choices)
check("completion.stream", "paris" in streamed.lower(), streamed)
print("all ok")
