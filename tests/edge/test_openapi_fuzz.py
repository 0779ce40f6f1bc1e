"""schemathesis over the whole REST surface, through the edge of a running mesh.

Every operation of the generated document, with a platform administrator's token and
with a tenant administrator's (tenant-scoped calls naming that admin's tenant), valid
and invalid inputs generated from the document. Zero answers may be a 5xx, none may
contradict the document (status, content type, body schema), and no input the document
calls invalid may be accepted (2xx). Failures are collected and reported together with
the case that reproduces each.

Left out, because a fuzzer cannot drive them without breaking the run: server streams
(Watch never ends; their answers are checked by the conformance test) and Logout (it
would end the very session the fuzzer calls with).
"""

from __future__ import annotations

import asyncio
import functools
import multiprocessing
import os
import random
import resource
import threading
import warnings
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis.errors import FlakyStrategyDefinition, Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.config import SchemathesisConfig
from schemathesis.core.failures import AcceptedNegativeData, FailureGroup
from schemathesis.core.parameters import ParameterLocation

from tests.support.openapi import OpenApiOracle, load_document
from tests.support.running_mesh import Integrator, MeshProcess, prepare_integrator

pytestmark = pytest.mark.edge

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]
# Logout ends the session the fuzzer calls with.
SKIPPED = {"AuthService_Logout"}
# Generated requests per operation, per token and mode (at most: Hypothesis stops early where
# an operation has few distinct inputs); over ~55 operations, 2 tokens and 2 modes this is
# ~2,300 requests, and each run draws a new seed, so successive runs cover different inputs.
# TENANTMESH_FUZZ_EXAMPLES raises it for a longer local run.
EXAMPLES = int(os.environ.get("TENANTMESH_FUZZ_EXAMPLES", "12"))
SEED = int(os.environ.get("TENANTMESH_FUZZ_SEED", str(random.randrange(2**32))))


@pytest.fixture
async def fuzzed(running_mesh: MeshProcess) -> Integrator:
    """A tenant, its administrator and fresh sessions of the fuzzer's own: the fuzzer may end
    them (a tenant administrator may change their own membership; schemathesis reuses values
    it saw in answers), and must not end the sessions other tests use."""
    return await prepare_integrator(running_mesh)


def fuzz_config(**generation: Any) -> SchemathesisConfig:
    return SchemathesisConfig.from_dict(
        {
            "checks": {
                # An invalid input must get a client error; which one is the service's business.
                "negative_data_rejection": {"expected-statuses": ["4xx"]},
            },
            "generation": generation,
        }
    )


@dataclass
class FuzzRun:
    base_url: str
    verify: str
    # Passed on explicitly: a process of the fuzzer's own would draw another SEED when it imports this module.
    seed: int = SEED
    sent: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    # 401s per operation: a token that stopped working would make the rest of a run hollow.
    unauthenticated: Counter[str] = field(default_factory=Counter)
    # Invalid bodies the edge read as valid ones (see _edge_read_as_valid).
    flattened: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def operation(
        self,
        operation: Any,
        mode: GenerationMode,
        token: str,
        tenant: str,
        examples: int,
        session: requests.Session,
    ) -> None:
        # The token and the tenant are fixed, not generated: the fuzzer explores the inputs of
        # a caller who may make the call (auth has its own matrices). `Authorization` is the
        # name the document's bearer scheme gives the header, so this value replaces the
        # generated one instead of travelling next to it.
        fixed = {"Authorization": f"Bearer {token}"}
        if _tenant_scoped(operation):
            fixed["x-tenant-id"] = tenant
        strategy = operation.as_strategy(generation_mode=mode, headers=fixed)

        @seed(self.seed)
        @settings(
            max_examples=examples,
            deadline=None,
            database=None,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=strategy)
        def run(case: Any) -> None:
            response = case.call(base_url=self.base_url, session=session, verify=self.verify, timeout=30)
            with self.lock:
                self.sent += 1
                self.statuses[response.status_code] += 1
                if response.status_code == 401:
                    self.unauthenticated[operation.label] += 1
            try:
                case.validate_response(response, checks=CHECKS)
            except (AssertionError, FailureGroup) as exc:  # every failure is collected and reported
                if _edge_read_as_valid(exc, case):
                    with self.lock:
                        self.flattened += 1
                    return
                with self.lock:
                    self.failures.append(
                        f"{operation.label} [{mode.value}] -> {response.status_code}: {str(exc)[:1500]}\n"
                        f"  reproduce: {case.as_curl_command()}"
                    )

        try:
            run()
        except Unsatisfiable:
            # Nothing of this operation can be made invalid (no parameters, no body).
            assert mode is GenerationMode.NEGATIVE, operation.label


def as_the_edge_reads(value: Any) -> Any:
    """A JSON value as Envoy's transcoder reads it into a message (protobuf's JSON parser;
    tests/edge/test_accounts_rest.py shows both): an array inside an array gives its items in its
    place, and a null item of an array is no item."""
    if isinstance(value, list):
        items: list[Any] = []
        for item in map(as_the_edge_reads, value):
            if item is not None:
                items.extend(item if isinstance(item, list) else [item])
        return items
    if isinstance(value, dict):
        return {key: as_the_edge_reads(item) for key, item in value.items()}
    return value


_NOT_BODY = (ParameterLocation.PATH, ParameterLocation.QUERY, ParameterLocation.HEADER, ParameterLocation.COOKIE)


@functools.cache
def _oracle() -> OpenApiOracle:
    # One per fuzzing process, made when a case first needs it.
    return OpenApiOracle()


def _edge_read_as_valid(exc: BaseException, case: Any) -> bool:
    """Whether an invalid body was accepted only because the edge read it, flattening nested arrays
    and dropping null items of arrays, as a body the document calls valid (docs/decisions.md,
    Edge): nothing but the body invalid, and nothing else wrong with the answer."""
    if not isinstance(exc, FailureGroup) or not all(isinstance(f, AcceptedNegativeData) for f in exc.exceptions):
        return False
    if case.meta is None or any(case.meta.is_negative_at(location) for location in _NOT_BODY):
        return False
    body = case.body
    read = as_the_edge_reads(body)
    return bool(read != body and not _oracle().request_body_errors(case.operation.method, case.operation.path, read))


def _tenant_scoped(operation: Any) -> bool:
    return bool(operation.definition.raw.get("x-tenantmesh-access", {}).get("scope") == "TENANT")


# The fuzzer's own CPU (drawing cases and checking answers against the document, in Python) is
# most of the run, and threads would share one interpreter lock: the operations are dealt out to
# processes instead, each drawing every operation's cases from the run's seed as one process would.
FUZZ_PROCESSES = 2
# Address space for each of them: they use a few hundred MB. Once, with 100 examples per
# operation, one grew to 23 GB and the kernel's OOM killer ended it (it could as well have been
# MariaDB); under this bound a runaway case fails its share with MemoryError naming the operation.
FUZZ_PROCESS_MEMORY_BYTES = 4 * 2**30


def fuzz(who: Integrator) -> FuzzRun:
    mesh = who.mesh
    run = FuzzRun(base_url=mesh.https_url, verify=str(mesh.ca_file))
    tokens = (who.admin_token, who.tenant_admin_token)
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(FUZZ_PROCESSES, mp_context=context) as pool:
        shares = [
            pool.submit(fuzz_share, run.base_url, run.verify, run.seed, tokens, who.tenant_id, share, FUZZ_PROCESSES)
            for share in range(FUZZ_PROCESSES)
        ]
        for done in shares:
            sent, statuses, failures, unauthenticated, flattened = done.result()
            run.sent += sent
            run.statuses.update(statuses)
            run.failures.extend(failures)
            run.unauthenticated.update(unauthenticated)
            run.flattened += flattened
    return run


def fuzz_share(
    base_url: str, verify: str, run_seed: int, tokens: tuple[str, str], tenant_id: str, share: int, shares: int
) -> tuple[int, dict[int, int], list[str], dict[str, int], int]:
    """Every ``shares``-th operation of the document, from the ``share``-th on (in a process of its own)."""
    # As the test run has it (pyproject.toml): a warning is an error.
    warnings.simplefilter("error")
    warnings.filterwarnings("ignore", category=DeprecationWarning, module="grpc.*")
    resource.setrlimit(resource.RLIMIT_AS, (FUZZ_PROCESS_MEMORY_BYTES, FUZZ_PROCESS_MEMORY_BYTES))
    schema = schemathesis.openapi.from_dict(load_document(), config=fuzz_config())
    run = FuzzRun(base_url=base_url, verify=verify, seed=run_seed)
    with requests.Session() as session:
        fuzzed = 0
        for result in schema.get_all_operations():
            operation = result.ok()  # type: ignore[union-attr]  # an Err raises here, as it should
            raw = operation.definition.raw
            if raw.get("x-stream") or raw["operationId"] in SKIPPED:
                continue
            fuzzed += 1
            if (fuzzed - 1) % shares != share:
                continue
            for token in tokens:
                for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                    try:
                        run.operation(operation, mode, token, tenant_id, EXAMPLES, session)
                    except BaseException as exc:  # reported by the parent: say where, and how to repeat it
                        exc.add_note(f"fuzzing {operation.label} [{mode.value}], seed {run_seed}")
                        raise
    return run.sent, dict(run.statuses), run.failures, dict(run.unauthenticated), run.flattened


# Stateful runs: sequences that follow the document's links (create -> get/update/delete).
STATEFUL_EXAMPLES = int(os.environ.get("TENANTMESH_FUZZ_STATEFUL_EXAMPLES", "12"))
NOT_STATEFUL = "^(AuthService_Logout|DiscoveryService_Watch|TenantService_MigrateTenantDatabases)$"


def stateful(who: Integrator, token: str, run: FuzzRun) -> None:
    """Hypothesis' state machine over the document's links, valid inputs only: what a create
    returns is what the next calls use, so gets, updates and deletes reach real resources."""
    config = fuzz_config(mode="positive")
    schema = schemathesis.openapi.from_dict(load_document(), config=config).exclude(operation_id_regex=NOT_STATEFUL)
    headers = {"Authorization": f"Bearer {token}", "x-tenant-id": who.tenant_id}

    class Machine(schema.as_state_machine()):  # type: ignore[misc]
        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"base_url": run.base_url, "verify": run.verify, "headers": headers, "timeout": 30}

        def validate_response(self, response: Any, case: Any, additional_checks: Any = None, **kwargs: Any) -> None:
            with run.lock:
                run.sent += 1
                run.statuses[response.status_code] += 1
            try:
                case.validate_response(response, checks=CHECKS)
            except (AssertionError, FailureGroup) as exc:
                with run.lock:
                    run.failures.append(
                        f"{case.operation.label} [stateful] -> {response.status_code}: {str(exc)[:1500]}"
                    )

    Machine.run(
        settings=settings(
            max_examples=STATEFUL_EXAMPLES,
            stateful_step_count=8,
            deadline=None,
            database=None,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
    )


# Slow by design (thousands of calls / building and installing a package): beyond the default 120 s.
@pytest.mark.timeout(900)
async def test_schemathesis_finds_nothing_over_the_whole_surface(fuzzed: Integrator) -> None:
    print(f"schemathesis: seed {SEED}")  # shown whatever ends the run
    run = await asyncio.to_thread(fuzz, fuzzed)
    print(f"schemathesis: {run.sent} requests, seed {SEED}, statuses {dict(sorted(run.statuses.items()))}")
    print(f"401 by operation: {dict(run.unauthenticated.most_common(8))}")
    print(f"invalid bodies the edge read as valid ones (nested arrays, null items): {run.flattened}")
    assert not run.failures, f"{len(run.failures)} failures (seed {SEED}):\n\n" + "\n\n".join(run.failures[:40])
    assert run.sent >= 3000, run.sent
    assert not any(status >= 500 for status in run.statuses)


# Fewer requests than this means the link-following exploration hardly ran.
MIN_STATEFUL_REQUESTS = 50


# Slow by design (thousands of calls / building and installing a package): beyond the default 120 s.
@pytest.mark.timeout(900)
async def test_schemathesis_follows_links_through_resources(fuzzed: Integrator) -> None:
    integrator = fuzzed
    run = FuzzRun(base_url=integrator.mesh.https_url, verify=str(integrator.mesh.ca_file))
    for token in (integrator.admin_token, integrator.tenant_admin_token):
        try:
            await asyncio.to_thread(stateful, integrator, token, run)
        except FlakyStrategyDefinition as exc:
            # The state machine's next step depends on what earlier responses put in its bundles;
            # when the mesh's state makes a replayed prefix choose differently, Hypothesis stops
            # exploring. That ends this caller's exploration, not the check of what was sent.
            print(f"schemathesis stateful: exploration stopped early ({type(exc).__name__})")
    print(f"schemathesis stateful: {run.sent} requests, statuses {dict(sorted(run.statuses.items()))}")
    assert not run.failures, f"{len(run.failures)} failures:\n\n" + "\n\n".join(run.failures[:40])
    assert 200 in run.statuses
    assert run.sent >= MIN_STATEFUL_REQUESTS, run.sent
