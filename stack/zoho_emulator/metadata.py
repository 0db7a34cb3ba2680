"""`GET settings/modules[/{api_name}]` and `GET settings/fields?module=`, derived from the org's module schema and
shaped like zoho/crm-oas v8.0 (getModules, getFields; `fields.json` for `unique`, `subform`, `lookup`).

Only the keys a client checks a field mapping against are filled with meaning (api_name, data_type, json_type,
length, system_mandatory, unique, custom_field, read_only, lookup.module, subform / associated_module,
pick_list_values, textarea.type, auto_number); the rest carry the spec's neutral values so a strict parser
accepts them. A subform's rows are described by `settings/fields?module=<subform module>`, whose api name is
the subform field's own api name here.
"""

from __future__ import annotations

from typing import Any

from stack.zoho_emulator.access import STANDARD_MODULES, rights
from stack.zoho_emulator.config import OrgConfig
from stack.zoho_emulator.errors import ZohoError, param_missing
from stack.zoho_emulator.schema import FieldSpec, ModuleSpec
from stack.zoho_emulator.store import OrgStore

# data_type and json_type Zoho reports for each field type of the emulator's schema.
TYPES: dict[str, tuple[str, str]] = {
    "text": ("text", "string"), "textarea": ("textarea", "string"), "email": ("email", "string"),
    "phone": ("phone", "string"), "integer": ("integer", "integer"), "decimal": ("double", "double"),
    "boolean": ("boolean", "boolean"), "date": ("date", "string"), "datetime": ("datetime", "string"),
    "picklist": ("picklist", "string"), "multiselectpicklist": ("multiselectpicklist", "jsonarray"),
    "lookup": ("lookup", "jsonobject"), "subform": ("subform", "jsonarray"), "autonumber": ("autonumber", "string"),
}
# System fields every module has (read-only): api name -> data_type, json_type.
SYSTEM_FIELDS: dict[str, tuple[str, str]] = {
    "Owner": ("ownerlookup", "jsonobject"), "Created_By": ("ownerlookup", "jsonobject"),
    "Modified_By": ("ownerlookup", "jsonobject"), "Created_Time": ("datetime", "string"),
    "Modified_Time": ("datetime", "string"),
}
# Ids of metadata objects: org prefix + a counter range of their own, stable across calls.
_SUBFORM_MODULE_BASE = 500
_PROFILE_ID = 900
_FIELD_BASE = 1_000_000


def _label(api_name: str) -> str:
    return api_name.replace("_", " ")


def subform_modules(store: OrgStore) -> dict[str, tuple[str, FieldSpec]]:
    """Subform module api name -> (parent module, subform field)."""
    return {name: (module, field) for module, spec in store.modules.items()
            for name, field in spec.fields.items() if field.type == "subform"}


def _subform_module_id(store: OrgStore, name: str) -> str:
    return f"{store.org.id_prefix}{_SUBFORM_MODULE_BASE + sorted(subform_modules(store)).index(name):012d}"


def module_item(store: OrgStore, org: OrgConfig, name: str) -> dict[str, Any]:
    subforms = subform_modules(store)
    if name in subforms:
        module_id, generated, held, api = _subform_module_id(store, name), "subform", {"View"}, False
    else:
        module_id, api = store.module_ids[name], True
        generated = "default" if name in STANDARD_MODULES else "custom"
        held = rights(org, name)
    profile = {"name": "Administrator", "id": f"{org.id_prefix}{_PROFILE_ID:012d}"}
    return {
        "api_name": name, "module_name": name, "id": module_id, "plural_label": _label(name),
        "singular_label": _label(name), "actual_plural_label": _label(name), "actual_singular_label": _label(name),
        "generated_type": generated, "api_supported": api, "status": "visible", "visibility": 1,
        "viewable": "View" in held, "creatable": "Create" in held, "editable": "Edit" in held,
        "deletable": "Delete" in held, "show_as_tab": api, "global_search_supported": api,
        "recycle_bin_on_delete": True, "triggers_supported": api, "lookupable": api, "quick_create": api,
        "parent_module": {"api_name": subforms[name][0], "id": store.module_ids[subforms[name][0]]}
        if name in subforms else {},
        "profiles": [profile] if held else [], "modified_time": None, "modified_by": None, "description": None,
        "access_type": "org_based",
    }


def modules_body(store: OrgStore, org: OrgConfig) -> dict[str, Any]:
    names = [*store.modules, *sorted(subform_modules(store))]
    return {"modules": [module_item(store, org, name) for name in names]}


def module_body(store: OrgStore, org: OrgConfig, name: str) -> dict[str, Any]:
    if name not in store.modules and name not in subform_modules(store):
        raise ZohoError(400, "INVALID_MODULE", "the module name given seems to be invalid",
                        {"resource_path_index": 2})
    return {"modules": [module_item(store, org, name)]}


def fields_body(store: OrgStore, module: str | None) -> dict[str, Any]:
    if not module:
        raise param_missing("module")
    subforms = subform_modules(store)
    if module in store.modules:
        spec: ModuleSpec = store.modules[module]
        fields, system, index = spec.fields, True, list(store.modules).index(module)
    elif module in subforms:
        fields, system = subforms[module][1].fields or {}, False
        index, spec = len(store.modules) + sorted(subforms).index(module), ModuleSpec(fields=fields)
    else:
        raise ZohoError(400, "INVALID_MODULE", "the module name given seems to be invalid", {})
    items = [_field(store, index, n, name, field, spec) for n, (name, field) in enumerate(fields.items())]
    if system:
        items += [_system_field(store, index, len(fields) + n, name, kinds)
                  for n, (name, kinds) in enumerate(SYSTEM_FIELDS.items())]
    return {"fields": items}


def _field_id(store: OrgStore, module_index: int, n: int) -> str:
    return f"{store.org.id_prefix}{_FIELD_BASE + module_index * 1000 + n:012d}"


def _base(store: OrgStore, module_index: int, n: int, name: str, data_type: str, json_type: str,
          read_only: bool) -> dict[str, Any]:
    profile = {"permission_type": "read_only" if read_only else "read_write", "name": "Administrator",
               "id": f"{store.org.id_prefix}{_PROFILE_ID:012d}"}
    return {
        "api_name": name, "id": _field_id(store, module_index, n), "field_label": _label(name),
        "display_label": _label(name), "data_type": data_type, "json_type": json_type, "type": "used",
        "read_only": read_only, "field_read_only": read_only, "system_mandatory": False, "custom_field": False,
        "visible": True, "webhook": True, "filterable": True, "searchable": True, "sortable": True,
        "mass_update": not read_only, "virtual_field": False, "separator": False, "businesscard_supported": False,
        "colour_code_enabled_by_system": False, "enable_colour_code": False, "display_field": False,
        "pick_list_values_sorted_lexically": False, "history_tracking_enabled": False, "public": False,
        "created_source": "default", "display_type": -1, "ui_type": 1, "profiles": [profile],
        "operation_type": {"web_update": not read_only, "api_create": not read_only, "web_create": not read_only,
                           "api_update": not read_only},
        "view_type": {"view": True, "edit": not read_only, "quick_create": False, "create": not read_only},
        "email_parser": {"fields_update_supported": False, "record_operations_supported": False},
        "length": None, "unique": {}, "lookup": {}, "pick_list_values": [], "associated_module": None,
        "subform": None, "auto_number": {}, "textarea": None, "decimal_place": None, "currency": {},
        "formula": {}, "rollup_summary": {}, "multi_module_lookup": {}, "multiselectlookup": {},
        "association_details": None, "external": None, "crypt": None, "private": None, "tooltip": None,
        "parent_field": None, "child_fields": None, "range": None, "global_picklist": None,
        "history_tracking": None, "display_format": None, "display_format_properties": None,
        "customizable_properties": [], "created_time": None, "modified_time": None, "hipaa_compliance": None,
    }


def _system_field(store: OrgStore, module_index: int, n: int, name: str, kinds: tuple[str, str]
                  ) -> dict[str, Any]:
    # Owner is the one system field an API write may set; the times and users are Zoho's own.
    item = _base(store, module_index, n, name, *kinds, read_only=name != "Owner")
    if kinds[0] == "ownerlookup":
        item["length"] = 120
    return item


def _field(store: OrgStore, module_index: int, n: int, name: str, field: FieldSpec, spec: ModuleSpec
           ) -> dict[str, Any]:
    data_type, json_type = TYPES[field.type]
    item = _base(store, module_index, n, name, data_type, json_type, read_only=field.type == "autonumber")
    item.update(system_mandatory=field.mandatory, custom_field=name != spec.name_field,
                length=field.max_length, ui_type=1)
    if field.unique:
        # fields.json gives `casesensitive` as a string.
        item["unique"] = {"casesensitive": "true" if field.case_sensitive else "false"}
    if field.values is not None:
        item["pick_list_values"] = [
            {"display_value": v, "actual_value": v, "reference_value": v, "sequence_number": k + 1, "type": "used",
             "id": f"{store.org.id_prefix}{_FIELD_BASE * 2 + module_index * 100_000 + n * 100 + k:012d}",
             "colour_code": None}
            for k, v in enumerate(field.values)]
    if field.type == "lookup" and field.lookup:
        target = field.lookup
        item["lookup"] = {"display_label": _label(name), "api_name": name, "id": item["id"],
                          "module": {"api_name": target, "id": store.module_ids.get(target)},
                          "query_details": {}, "revalidate_filter_during_edit": False, "show_fields": []}
    if field.type == "subform":
        module = {"module": name, "id": _subform_module_id(store, name)}
        item["subform"] = module
        item["associated_module"] = module
    if field.type == "textarea":
        item["textarea"] = {"type": "small" if (field.max_length or 0) <= 2000 else "large"}
    if field.type == "autonumber":
        item["auto_number"] = {"prefix": field.prefix or None, "suffix": None, "start_number": 1,
                               "starting_number_length": 4}
    if field.type == "decimal":
        item["decimal_place"] = 2
    return item
