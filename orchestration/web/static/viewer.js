// The Meshmill viewer: one GLB in a WebGL canvas with orbit / zoom / pan, wireframe, flat light, reset.
// Outputs share one frame (largest extent 1.8 units, centred on the origin), so every viewer starts
// from the same camera and linked viewers show the same view of each model.
import * as THREE from "three";
import { OrbitControls } from "three/addons/controls/OrbitControls.js";
import { GLTFLoader } from "three/addons/loaders/GLTFLoader.js";

const HOME = new THREE.Vector3(2.2, 1.4, 3.4);

// Without WebGL (a locked-down or old browser, a remote desktop without a GPU driver) the viewer shows the
// output's preview render and says why, instead of a blank box; createViewer then returns null.
const NO_WEBGL = "This browser gives the page no WebGL, so the model cannot be turned here: this is its preview " +
  "render. Download the GLB to open it in Blender or another viewer.";

function webglAvailable() {
  try {
    const canvas = document.createElement("canvas");
    return Boolean(canvas.getContext("webgl2") || canvas.getContext("webgl"));
  } catch {
    return false;
  }
}

function previewInstead(element, url) {
  const image = document.createElement("img");
  image.className = "fallback";
  image.alt = "the model's preview render";
  image.src = url.replace(/model\.glb$/, "preview.png");
  const note = document.createElement("p");
  note.className = "fallback-note";
  note.textContent = NO_WEBGL;
  element.replaceChildren(image, note);
  element.dataset.ready = "no-webgl";
  return null;
}

export async function createViewer(element, url, { spin = true } = {}) {
  const width = element.clientWidth || 640;
  const height = element.clientHeight || 480;
  if (!webglAvailable()) return previewInstead(element, url);
  let renderer;
  try {
    renderer = new THREE.WebGLRenderer({ antialias: true, preserveDrawingBuffer: true });
  } catch {
    return previewInstead(element, url);
  }
  renderer.setPixelRatio(Math.min(window.devicePixelRatio, 2));
  renderer.setSize(width, height);
  renderer.outputColorSpace = THREE.SRGBColorSpace;
  element.appendChild(renderer.domElement);

  const scene = new THREE.Scene();
  scene.background = new THREE.Color(0x30343b);
  const camera = new THREE.PerspectiveCamera(35, width / height, 0.01, 100);
  camera.position.copy(HOME);
  const controls = new OrbitControls(camera, renderer.domElement);
  controls.enableDamping = true;
  controls.autoRotate = spin;
  controls.autoRotateSpeed = 1.5;

  // studio light: sky/ground fill plus a key light; "flat" shows the texture as baked
  const studio = new THREE.Group();
  studio.add(new THREE.HemisphereLight(0xffffff, 0x444450, 1.6));
  const key = new THREE.DirectionalLight(0xffffff, 1.8);
  key.position.set(3, 5, 4);
  studio.add(key);
  const flat = new THREE.AmbientLight(0xffffff, 3.0);
  flat.visible = false;
  scene.add(studio, flat);

  const gltf = await new GLTFLoader().loadAsync(url);
  const model = gltf.scene;
  scene.add(model);
  const box = new THREE.Box3().setFromObject(model);
  const centre = box.getCenter(new THREE.Vector3());
  controls.target.copy(centre);
  const home = { position: HOME.clone().add(centre), target: centre.clone() };
  camera.position.copy(home.position);
  controls.update();

  const levels = await levelsOfDetail(gltf);
  const meshes = [];
  model.traverse((o) => { if (o.isMesh) meshes.push(o); });
  let frames = 0;
  const viewer = {
    element, renderer, scene, camera, controls, model,
    // the faces on show: level 0's where the GLB has levels of detail
    get faces() { return countFaces(model, true); },
    lods: levels.map((o, level) => ({ level, faces: countFaces(o, false) })),
    setLod(level) { levels.forEach((o, i) => { o.visible = i === level; }); },
    setWireframe(on) { meshes.forEach((m) => { m.material.wireframe = on; }); },
    setFlatLight(on) { flat.visible = on; studio.visible = !on; },
    setSpin(on) { controls.autoRotate = on; },
    reset() { camera.position.copy(home.position); controls.target.copy(home.target); controls.update(); },
    get frames() { return frames; },
  };
  renderer.setAnimationLoop(() => {
    controls.update();
    renderer.render(scene, camera);
    frames += 1;
    if (frames === 2) element.dataset.ready = "1";
  });
  new ResizeObserver(() => {
    const w = element.clientWidth, h = element.clientHeight;
    if (w && h) { renderer.setSize(w, h); camera.aspect = w / h; camera.updateProjectionMatrix(); }
  }).observe(element);
  return viewer;
}

function countFaces(root, visibleOnly) {
  let faces = 0;
  root.traverse((o) => {
    if (!o.isMesh) return;
    for (let p = o; visibleOnly && p; p = p.parent) if (!p.visible) return;
    faces += (o.geometry.index ? o.geometry.index.count : o.geometry.attributes.position.count) / 3;
  });
  return faces;
}

// MSFT_lod: the scene holds level 0's node, whose extension lists the nodes of the further levels. They are
// loaded beside it, hidden; [] when the GLB has no levels.
async function levelsOfDetail(gltf) {
  const json = gltf.parser.json;
  for (const index of json.scenes?.[json.scene ?? 0]?.nodes ?? []) {
    const ids = json.nodes[index].extensions?.MSFT_lod?.ids;
    if (!ids) continue;
    let base = null;
    gltf.scene.traverse((o) => { if (gltf.parser.associations.get(o)?.nodes === index) base = o; });
    if (!base) continue;
    const levels = [base];
    for (const id of ids) {
      const node = (await gltf.parser.getDependency("node", id)).clone();
      node.visible = false;
      base.parent.add(node);
      levels.push(node);
    }
    return levels;
  }
  return [];
}

// The toolbar's controls do nothing without a viewer: greyed out, not dead to the click.
export function disableControls(root = document) {
  root.querySelectorAll(".toolbar button, .toolbar select").forEach((control) => { control.disabled = true; });
}

// Move one viewer's camera and the others follow (the compare page).
export function linkCameras(viewers) {
  let syncing = false;
  for (const source of viewers) {
    source.controls.addEventListener("change", () => {
      if (syncing) return;
      syncing = true;
      for (const other of viewers) {
        if (other === source) continue;
        other.camera.position.copy(source.camera.position);
        other.controls.target.copy(source.controls.target);
        other.controls.update();
      }
      syncing = false;
    });
  }
}

// A toolbar button that switches something on and off, showing its state in aria-pressed.
export function bindToggle(button, apply) {
  button.addEventListener("click", () => {
    const on = button.getAttribute("aria-pressed") !== "true";
    button.setAttribute("aria-pressed", String(on));
    apply(on);
  });
}
